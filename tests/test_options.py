"""The one options schema: defaults, layering, validation in one message form."""

from __future__ import annotations

import math

import pytest

import scalekit
from scalekit.options import FIELDS, THRESHOLD_FIELDS, Options, Thresholds, parse_assignment, resolve_options

from .helpers import synthetic_frame


def test_schema_defaults_are_the_dataclass_defaults():
    opts, th = Options(), Thresholds()
    for name, (default, _) in FIELDS.items():
        assert getattr(opts, name) == default, name
    for name, (default, _) in THRESHOLD_FIELDS.items():
        assert getattr(th, name) == default, name
    assert set(FIELDS) | {"thresholds"} == set(Options.__dataclass_fields__)
    assert set(THRESHOLD_FIELDS) == set(Thresholds.__dataclass_fields__)


def test_layers_override_in_order_and_thresholds_merge_key_by_key():
    o = resolve_options({"n_boot": 10, "thresholds": {"noise_k": 4}}, {"n_boot": 20, "thresholds": {"min_effect": 0.1}},
                        {"seed": None})
    assert o.n_boot == 20 and o.seed == 0 and o.thresholds.noise_k == 4 and o.thresholds.min_effect == 0.1
    assert resolve_options({"targets": [0.05]}, {"target": 0.02}).all_targets == (0.02, 0.05)


@pytest.mark.parametrize("key, value, allowed", [
    ("delta", -1, "a finite number > 0"), ("delta", 0, "a finite number > 0"), ("delta", math.nan, "a finite number > 0"),
    ("n_boot", -5, "a whole number >= 0"), ("n_boot", 2.5, "a whole number >= 0"), ("seed", -1, "a whole number >= 0"),
    ("loss", "l1", "one of 'huber', 'squared'"), ("target", 1.5, "a fraction in (0, 1)"), ("checks", "yes", "true or false"),
    ("budgets", [1e20, -1], "a list of finite numbers > 0"), ("n_boot", True, "a whole number >= 0"),
])
def test_bad_values_name_option_value_and_what_is_allowed(key, value, allowed):
    with pytest.raises(scalekit.ConfigError) as e:
        resolve_options({key: value})
    assert f"option '{key}': got {value!r}; allowed: {allowed}" in str(e.value)


def test_unknown_option_and_threshold_are_errors():
    with pytest.raises(scalekit.ConfigError, match=r"unknown option 'nboot'"):
        resolve_options({"nboot": 3})
    with pytest.raises(scalekit.ConfigError, match=r"unknown threshold\(s\) \['nope'\]"):
        resolve_options({"thresholds": {"nope": 1}})


def test_yaml_options_feed_fit_law_and_arguments_win(tmp_path):
    p = tmp_path / "b.csv"
    synthetic_frame(sizes=5, datas=5, noise=0.01).to_csv(p, index=False)
    p.with_suffix(".yaml").write_text("options: {n_boot: 25, seed: 3}\n")
    fit = scalekit.fit_law(p)
    assert fit.method["n_boot"] == 25 and fit.method["seed"] == 3
    assert scalekit.fit_law(p, n_boot=0).method["n_boot"] == 0
    p.with_suffix(".yaml").write_text("options: {delta: -1}\n")
    with pytest.raises(scalekit.ConfigError, match=r"b.yaml \[delta\]: option 'delta': got -1"):
        scalekit.load_batch(p)


def test_parse_assignment_reads_yaml_values():
    assert parse_assignment("budgets=[1e20, 2e21]") == ("budgets", [1e20, 2e21])
    assert parse_assignment("max_params=3.0e+8") == ("max_params", 3e8)
    assert parse_assignment("name=007") == ("name", 7)  # YAML's reading; the config refuses nothing here
    with pytest.raises(scalekit.ConfigError, match="KEY=VALUE"):
        parse_assignment("n_boot")
