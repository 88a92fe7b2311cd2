"""Variables by role (config `variables:`) and a batch's own law (config `law:`), through files, YAML and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

import scalekit
from scalekit.exceptions import BatchValidationError, ConfigError, FormulaError

TRUTH = {"L0": 1.6, "A": 300.0, "alpha": 0.3, "gamma": 0.12, "Bd": 400.0, "beta": 0.28}
LAW = "L0 + A * N^-alpha * E^-gamma + Bd * D^-beta"


def moe_frame(noise: float = 0.005, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for N in np.geomspace(5e7, 1e9, 5):
        for E in (1, 4, 16, 64):
            for D in (1e9, 5e9, 2.5e10, 1.25e11):
                L = TRUTH["L0"] + TRUTH["A"] * N ** -TRUTH["alpha"] * E ** -TRUTH["gamma"] + TRUTH["Bd"] * D ** -TRUTH["beta"]
                rows.append({"run": f"N{N:.2g}-E{E}-D{D:.0e}", "params": N, "num_experts": E, "tokens": D,
                             "loss": L * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows)


def test_a_moe_law_in_n_experts_and_d_from_the_batch_config(tmp_path):
    p = tmp_path / "moe.csv"
    moe_frame().to_csv(p, index=False)
    (tmp_path / "moe.yaml").write_text(yaml.safe_dump({"variables": {"E": "num_experts"}, "law": LAW}))
    batch = scalekit.load_batch(p)
    assert "E" in batch.frame and list(batch.metrics) == ["loss"]  # the experts column is a variable, not a metric
    fit = scalekit.fit_law(batch, n_boot=100)
    assert fit.form.variables == ("N", "E", "D")
    for k in ("alpha", "gamma", "beta"):
        assert abs(fit.params[k] - TRUTH[k]) <= 0.05 * TRUTH[k], (k, fit.params[k])
        lo, hi = fit.ci[k]
        assert lo <= TRUTH[k] <= hi
    assert scalekit.fit_law(batch, form="two_var", n_boot=0).form.name == "two_var"  # a form asked for wins


def test_the_same_from_the_command_line(tmp_path):
    p = tmp_path / "moe.csv"
    moe_frame().to_csv(p, index=False)
    out = subprocess.run([sys.executable, "-m", "scalekit", "fit", str(p), "--json", "--n-boot", "0",
                          "--set", "variables={E: num_experts}", "--set", f"law={LAW}"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["params"]["gamma"] == pytest.approx(TRUTH["gamma"], rel=0.05)


def test_mixture_proportions_must_sum_to_one(tmp_path):
    f = pd.DataFrame({"params": [1e8, 2e8, 4e8, 8e8], "tokens": [1e9] * 4, "web": [0.5, 0.6, 0.7, 0.2],
                      "code": [0.5, 0.4, 0.3, 0.5], "loss": [3.0, 2.9, 2.8, 2.7]})
    p = tmp_path / "mix.csv"
    f.to_csv(p, index=False)
    with pytest.raises(BatchValidationError) as e:
        scalekit.load_batch(p, variables={"r": ["web", "code"]})
    assert "sum to 0.7" in str(e.value) and "5" in str(e.value)  # CSV line 5
    f.loc[3, "code"] = 0.8
    f.to_csv(p, index=False)
    b = scalekit.load_batch(p, variables={"r": ["web", "code"]})
    np.testing.assert_allclose(b.frame["r1"] + b.frame["r2"], 1.0)


@pytest.mark.parametrize("variables, said", [({"Q": "x"}, "not a variable role"), ({"E": ["a", "b"]}, "one column"),
                                             ({"r": ["web"]}, "two or more domains"), ({"E": 3}, "expected a column name")])
def test_bad_variable_declarations_are_named(variables, said):
    with pytest.raises(ConfigError, match=said):
        scalekit.load_batch(moe_frame(), variables=variables)


def test_out_of_range_variables_and_bad_laws_are_refused(tmp_path):
    f = moe_frame()
    f.loc[2, "num_experts"] = 0
    with pytest.raises(BatchValidationError, match="experts"):
        scalekit.load_batch(f, variables={"E": "num_experts"})
    with pytest.raises(FormulaError, match="unknown function 'open'"):
        scalekit.load_batch(moe_frame(), variables={"E": "num_experts"}, law="open(N)")


# --- a batch without a data size (issue 21 item 1) ------------------------------------------------------------------
MOE_ND = {"L0": 1.6, "A": 30.0, "alpha": 0.2, "gamma": 0.08}


def experts_frame(noise: float = 0.01, seed: int = 0) -> pd.DataFrame:
    """Loss against parameters and expert count only (no data size): a Clark et al.-like law in N and E."""
    rng = np.random.default_rng(seed)
    rows = [{"run": f"N{N:.2g}-E{E}", "params": N, "num_experts": E,
             "loss": (MOE_ND["L0"] + MOE_ND["A"] * N ** -MOE_ND["alpha"] * E ** -MOE_ND["gamma"]) * np.exp(noise * rng.standard_normal())}
            for N in np.geomspace(1e7, 1e9, 6) for E in (1, 2, 4, 8, 16, 32)]
    return pd.DataFrame(rows)


def test_a_batch_without_a_data_size_loads_when_its_declared_law_does_not_need_one():
    b = scalekit.load_batch(experts_frame(), variables={"N": "params", "E": "num_experts"}, law="L0 + A * N^-alpha * E^-gamma")
    assert not b.has_data_size and b.frame["D"].isna().all() and b.frame["C"].isna().all()
    assert b.ranges()["E"] == (1.0, 32.0)
    assert any("no data size" in n for n in b.notes)
    assert b.summary()["data_size"] is False


def test_a_missing_data_size_is_still_refused_when_nothing_says_the_law_does_without_it():
    with pytest.raises(BatchValidationError, match="missing the data-size column") as e:
        scalekit.load_batch(experts_frame())  # no declared variables: D is the batch's
    assert "declares its variables" in str(e.value)
    with pytest.raises(BatchValidationError, match="missing the data-size column"):  # the declared law reads D
        scalekit.load_batch(experts_frame(), variables={"E": "num_experts"}, law="L0 + A * N^-alpha * E^-gamma + B * D^-beta")


def test_a_single_curve_one_model_size_loads():
    D = np.geomspace(1e6, 1e9, 10)
    b = scalekit.load_batch(pd.DataFrame({"params": 1e9, "tokens": D, "loss": 1.2 + 50 / (300 + D ** 0.4)}))
    assert b.frame["N"].nunique() == 1 and b.runs == 10
    with pytest.raises(BatchValidationError, match="too few distinct model sizes"):  # nothing varies enough
        scalekit.load_batch(pd.DataFrame({"params": 1e9, "tokens": D[:2], "loss": [2.0, 1.9]}))


def test_named_formula_laws_in_the_config(tmp_path):
    (tmp_path / "moe.csv").write_text(experts_frame().to_csv(index=False))
    (tmp_path / "moe.yaml").write_text(yaml.safe_dump({
        "variables": {"E": "num_experts"},
        "laws": [{"name": "clark", "formula": "L0 + A * N^-alpha * E^-gamma"}, "L0 + A * N^-alpha"]}))
    b = scalekit.load_batch(tmp_path / "moe.csv")
    assert [d["name"] for d in b.config.laws] == ["clark", "custom"] and b.config.law == "L0 + A * N^-alpha * E^-gamma"
    with pytest.raises(ConfigError, match="share the name"):
        scalekit.load_batch(experts_frame(), variables={"E": "num_experts"}, laws=["L0 + A * N^-alpha", "L0 + A * E^-alpha"])
