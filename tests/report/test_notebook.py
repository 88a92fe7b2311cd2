"""What the notebooks call: parameters read against the one options schema, and loading."""

from __future__ import annotations

import papermill as pm
import pytest

from scalekit import ConfigError
from scalekit.options import FIELDS
from scalekit.render.resources import report_notebook
from scalekit.report.notebook import JOB_PARAMETERS, PARAMETERS, load, validate_parameters


def test_notebook_parameters_match_the_options_schema():
    """The parameters papermill reads from the notebook are the job's plus every option of the schema, in order."""
    found = pm.inspect_notebook(str(report_notebook()))
    assert list(found) == list(PARAMETERS)
    assert set(found) == set(JOB_PARAMETERS) | set(FIELDS) | {"thresholds"}
    for name in FIELDS:  # every run option defaults to None: the batch config's value, else the schema's default
        assert found[name]["default"] == "None", name
        assert FIELDS[name][1].help in found[name]["help"], name


def test_number_where_text_is_expected_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"pass it with -r batch_name"):
        validate_parameters({"batch_name": 7})


def test_types_values_and_json_are_checked():
    assert validate_parameters({"delta": 1}).options == {"delta": 1}
    with pytest.raises(ConfigError, match=r"option 'loss': got 'l1'; allowed: one of 'huber', 'squared'"):
        validate_parameters({"loss": "l1"})
    with pytest.raises(ConfigError, match=r"option 'n_boot': got 'many'; allowed: a whole number >= 0"):
        validate_parameters({"n_boot": "many"})
    for bad in (-1, 0, float("nan")):
        with pytest.raises(ConfigError, match="option 'delta'"):
            validate_parameters({"delta": bad})
    with pytest.raises(ConfigError, match="not valid JSON"):
        validate_parameters({"config_json": "{nope"})
    assert validate_parameters({"config_json": '{"target": 0.02}'}).config == {"target": 0.02}
    assert validate_parameters({"targets": 0.05}).options == {"targets": [0.05]}  # papermill's one-item list


def test_load_example_and_version():
    b = load(validate_parameters({"example": "perception", "version": "v2", "config_json": '{"target": 0.02}'}))
    assert b.name == "perception v2" and b.runs == 30 and b.config.options["target"] == 0.02
    with pytest.raises(ConfigError, match="no version"):
        load(validate_parameters({"example": "perception", "version": "v9"}))
