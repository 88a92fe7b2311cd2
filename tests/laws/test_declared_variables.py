"""Selection that respects the data: with repeated data (unique_tokens given), auto only considers laws that use it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit.exceptions import BatchValidationError
from scalekit.laws.forms import get_form

# Muennighoff et al. 2023's fitted data-constrained law (their eq. 5-6 and Appendix: R_D* 15.4, R_N* 5.3)
MUENNIGHOFF = {"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.353, "beta": 0.353, "R_D_star": 15.387, "R_N_star": 5.309}


def repeated(seed: int = 0, noise: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    form = get_form("data_constrained")
    theta = form.internal(MUENNIGHOFF)
    rows = []
    for N in np.geomspace(1e8, 3e9, 6):
        for U in (2e9, 1e10):
            for epochs in (1, 2, 4, 8, 16, 40):
                D = epochs * U
                L = float(np.exp(form.log_predict(theta[None], np.log([[N, D, U]]))[0, 0])) * np.exp(noise * rng.standard_normal())
                rows.append({"run": f"N{N:.2g}-U{U:.0e}-x{epochs}", "params": N, "tokens": D, "unique_tokens": U, "loss": L})
    return pd.DataFrame(rows)


def test_auto_chooses_a_law_that_uses_the_unique_tokens_and_lists_the_others_as_not_eligible():
    fit = scalekit.fit_law(repeated(), form="auto", n_boot=50)
    sel = fit.method["selection"]
    assert "U" in get_form(sel["chosen"]).variables
    notes = {r["form"]: r["note"] for r in sel["table"]}
    for name in ("two_var", "kaplan"):
        assert "not eligible under auto: ignores U" in notes[name]
    assert any(w["window"] == "most repeated data" for w in sel["windows"])


def test_a_law_pinned_by_name_says_which_declared_variable_it_ignores():
    fit = scalekit.fit_law(repeated(), form="kaplan", n_boot=0)
    assert fit.method["ignores"] == ["U"] and "kaplan ignores U" in fit.message


def test_unique_tokens_above_the_tokens_trained_on_are_refused_naming_the_rows(tmp_path):
    df = repeated()
    df.loc[3, "unique_tokens"] = df.loc[3, "tokens"] * 2
    p = tmp_path / "rep.csv"
    df.to_csv(p, index=False)
    with pytest.raises(BatchValidationError) as e:
        scalekit.load_batch(p)
    msg = str(e.value)
    assert "unique tokens exceed the tokens trained on" in msg and "unique_tokens" in msg and "5" in msg  # CSV line 5


# --- laws in other variables: experts without a data size, windows along declared variables, single curves -------
from ..data.test_variables import MOE_ND, experts_frame  # noqa: E402


def experts_batch(**config):
    return scalekit.load_batch(experts_frame(), variables={"N": "params", "E": "num_experts"},
                               law="L0 + A * N^-alpha * E^-gamma", **config)


def test_fit_law_on_a_batch_without_a_data_size_fits_its_law_in_n_and_e_and_recovers_it():
    fit = scalekit.fit_law(experts_batch(), n_boot=200)
    assert fit.form.variables == ("N", "E") and fit.form.name == "custom"
    for k in ("alpha", "gamma"):
        lo, hi = fit.ci[k]
        assert lo <= MOE_ND[k] <= hi, (k, fit.ci[k])
        assert fit.params[k] == pytest.approx(MOE_ND[k], rel=0.15)


def test_auto_backtests_the_batch_law_beside_the_forms_and_holds_out_the_largest_experts():
    fit = scalekit.fit_law(experts_batch(), form="auto", n_boot=50)
    sel = fit.method["selection"]
    assert sel["chosen"] == "custom" and fit.form.variables == ("N", "E")
    rows = {r["form"]: r for r in sel["table"]}
    assert rows["custom"]["heldout"] > 0 and rows["custom"]["coverage"] is not None
    for name in ("saturating", "broken"):  # they ignore E, which this batch varies
        assert "not eligible under auto: ignores E" in rows[name]["note"]
    largest_e = next(w for w in sel["windows"] if w["window"] == "largest E")
    assert set(largest_e["runs"]) == {r for r in experts_frame()["run"] if r.endswith("-E32")}


def test_a_formula_law_competes_under_auto_beside_the_built_in_forms():
    """A law the built-in forms cannot express (the data term saturates with a scale D_l, Lin et al. 2024's shape, in
    N and D) is backtested like a built-in, chosen on held-out error, and fitted with the full bootstrap."""
    rng = np.random.default_rng(3)
    N, D = [a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 6), np.geomspace(1e7, 1e11, 7))]
    L = 1.7 + 400 / N ** 0.34 + 2000 / (1000 + D ** 0.4)
    df = pd.DataFrame({"params": N, "tokens": D, "loss": L * np.exp(0.002 * rng.standard_normal(N.size))})
    law = {"name": "rectified", "formula": "E + A * N^-alpha + B / (D_l + D^beta)"}
    fit = scalekit.fit_law(scalekit.load_batch(df, law=law), form="auto", n_boot=50)
    rows = {r["form"]: r for r in fit.method["selection"]["table"]}
    assert {"two_var", "kaplan", "rectified"} <= set(rows)
    assert rows["rectified"]["heldout"] == rows["two_var"]["heldout"] > 0
    assert fit.method["selection"]["chosen"] == "rectified" and fit.ci is not None
    assert rows["rectified"]["median_abs_rel_error"] < rows["two_var"]["median_abs_rel_error"]


def test_windows_hold_out_the_largest_value_of_every_declared_scale_variable():
    rng = np.random.default_rng(1)
    rows = []
    for N in np.geomspace(1e7, 1e9, 5):
        for V in (8e3, 3.2e4, 1.28e5, 5.12e5):
            for D in (1e9, 1e10, 1e11):
                L = 1.8 + 300 / N ** 0.3 + 400 / D ** 0.28 + 0.5 * (V / 1e5) ** 0.2 * 0 + 5 * V ** -0.2
                rows.append({"run": f"N{N:.2g}-V{V:g}-D{D:.0e}", "params": N, "tokens": D, "vocab": V,
                             "loss": L * np.exp(0.005 * rng.standard_normal())})
    df = pd.DataFrame(rows)
    b = scalekit.load_batch(df, variables={"V": "vocab"}, law="E0 + A * N^-alpha + B * D^-beta + C * V^-gamma")
    sel = scalekit.backtest(b, n_boot_backtest=0)
    win = {w["window"]: set(w["runs"]) for w in sel.windows}
    assert win["largest V"] == set(df.loc[df["vocab"] == 5.12e5, "run"])
    # the candidates that read V: the user's law and Tao et al.'s vocabulary law (the same law, spelled with -E)
    assert sel.chosen in ("custom", "vocabulary"), sel.chosen


def lin_curve(noise: float = 0.01, seed: int = 0, checkpoints: bool = False) -> pd.DataFrame:
    """One fine-tuning curve: Lin et al. 2024's rectified law L(D) = B / (D_l + D^beta) + E, one model size."""
    rng = np.random.default_rng(seed)
    D = np.geomspace(1e5, 1e8, 16)
    L = 40.0 / (200.0 + D ** 0.45) + 1.1
    out = pd.DataFrame({"params": 7e8, "tokens": D, "loss": L * np.exp(noise * rng.standard_normal(D.size))})
    if checkpoints:
        out = out.assign(run="ft", step=np.arange(1, D.size + 1))
    return out


@pytest.mark.parametrize("checkpoints", [False, True], ids=["runs", "one-run-checkpoints"])
def test_selection_works_on_a_single_fine_tuning_curve(checkpoints):
    b = scalekit.load_batch(lin_curve(checkpoints=checkpoints), law={"name": "lin", "formula": "B / (D_l + D^beta) + E"})
    fit = scalekit.fit_law(b, form="auto", n_boot=50)
    sel = fit.method["selection"]
    assert sel["chosen"] is not None and any(w["window"] == "largest D" for w in sel["windows"])
    rows = {r["form"]: r for r in sel["table"]}
    assert rows["lin"]["heldout"] > 0 and rows["saturating"]["heldout"] > 0  # one-variable forms compete along D
    quiet = scalekit.load_batch(lin_curve(noise=0.001, checkpoints=checkpoints), law={"name": "lin", "formula": "B / (D_l + D^beta) + E"})
    lin = scalekit.fit_law(quiet, n_boot=0)  # the batch's law, pinned: fitted along D, the curve's one variable
    assert lin.form.variables == ("D",) and lin.params["beta"] == pytest.approx(0.45, rel=0.1)


def test_a_metric_below_zero_is_fitted_on_linear_residuals_and_says_so():
    rng = np.random.default_rng(0)
    N, D = [a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 6), np.geomspace(1e9, 1e11, 5))]
    y = -0.7 + 400 / N ** 0.34 + 410 / D ** 0.28 + 0.005 * rng.standard_normal(N.size)  # a loss minus a unigram baseline
    assert (y < 0).any()
    df = pd.DataFrame({"params": N, "tokens": D, "normalised_loss": y})
    fit = scalekit.fit_law(df, n_boot=100)
    assert fit.residual_scale == "linear" and fit.summary()["residual_scale"] == "linear"
    assert "linear residuals" in fit.message and "linear residuals" in fit.report()
    lo, hi = fit.ci["E"]
    assert lo <= -0.7 <= hi and fit.params["alpha"] == pytest.approx(0.34, rel=0.05)
    pr = fit.predict(1e9, 1e11, interval="prediction")
    assert pr.lo < pr.value < pr.hi and pr.value < 0
    auto = scalekit.fit_law(df, form="auto", n_boot=0)
    assert auto.residual_scale == "linear"
    # positive values keep log residuals unless asked
    pos = df.assign(normalised_loss=y + 2.0)
    assert scalekit.fit_law(pos, n_boot=0).residual_scale == "log"
    assert scalekit.fit_law(pos, n_boot=0, residuals="linear").residual_scale == "linear"
