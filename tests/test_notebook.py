"""What the notebooks call: parameter validation and loading."""

from __future__ import annotations

import pytest

from scalekit import ConfigError
from scalekit.notebook import load, validate_parameters


def test_number_where_text_is_expected_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"pass it with -r batch_name"):
        validate_parameters({"batch_name": 7})


def test_types_values_and_json_are_checked():
    assert validate_parameters({"delta": 1})["delta"] == 1.0 and isinstance(validate_parameters({"delta": 1})["delta"], float)
    with pytest.raises(ConfigError, match="not one of"):
        validate_parameters({"loss": "l1"})
    with pytest.raises(ConfigError, match="expected int"):
        validate_parameters({"n_boot": "many"})
    with pytest.raises(ConfigError, match="not valid JSON"):
        validate_parameters({"config_json": "{nope"})
    with pytest.raises(ConfigError, match="unknown parameter"):
        validate_parameters({"nboot": 10})
    assert validate_parameters({"config_json": '{"target": 0.02}'})["config"] == {"target": 0.02}


def test_load_example_and_version():
    b = load(validate_parameters({"example": "perception", "version": "v2", "config_json": '{"target": 0.02}'}))
    assert b.name == "perception v2" and b.runs == 30 and b.config.target == 0.02
    with pytest.raises(ConfigError, match="no version"):
        load(validate_parameters({"example": "perception", "version": "v9"}))
