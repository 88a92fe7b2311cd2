"""The bottom line and extrapolation distances: synthetic laws with known answers, and the Chinchilla data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import scalekit
from scalekit.analyses.bottom_line import PREFERENCE, chosen_approach
from scalekit.data.ranges import TrainedRange, beyond
from scalekit.examples import example_source
from scalekit.exceptions import ExtrapolationWarning
from scalekit.report.format import compute, data, fmt, fmt_ci, num, params, prose

from ..helpers import curves_frame, finals_frame


@pytest.fixture(scope="module")
def synth_fit():
    return scalekit.fit_law(scalekit.load_batch(finals_frame()), n_boot=50)


def test_beyond_is_the_factor_outside_the_range():
    assert beyond([5.0, 50.0, 0.5], 1.0, 10.0).tolist() == [1.0, 5.0, 2.0]
    assert TrainedRange({"N": (1e6, 1e8)}).distance(N=1e9, D=None) == {"N": 10.0, "D": None}


def test_predict_returns_the_distance_and_warns_past_the_threshold(synth_fit):
    Nmax, Dmax = synth_fit.x[:, 0].max(), synth_fit.x[:, 1].max()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inside the range: silent
        p = synth_fit.predict(Nmax, Dmax, interval="confidence")
    assert p.extrapolation["N"] == 1.0 and p.extrapolation["D"] == 1.0
    with pytest.warns(ExtrapolationWarning, match=r"10x N, 140x D"):
        p = synth_fit.predict(10 * Nmax, 140 * Dmax, interval="prediction")
    assert float(p.extrapolation["N"]) == pytest.approx(10) and float(p.extrapolation["D"]) == pytest.approx(140)
    nd = synth_fit.x[:, 0] * synth_fit.x[:, 1]
    assert float(p.extrapolation["C"]) == pytest.approx(1400 * Nmax * Dmax / nd.max())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        synth_fit.predict(1.5 * Nmax, Dmax)  # within the default 2x: no warning
        synth_fit.predict(10 * Nmax, Dmax, warn=False)
    with pytest.warns(ExtrapolationWarning):
        synth_fit.predict(1.5 * Nmax, Dmax, threshold=1.2)


def test_summary_carries_bottom_line_and_distances():
    df = curves_frame()
    an = scalekit.analyze(scalekit.load_batch(df), n_boot=100, budgets=[1e19, 1e21])
    s = an.summary()
    bl = s["bottom_line"]["eval_loss"]
    rng = an.batch.ranges()
    assert bl["approach"] == chosen_approach(an.metrics["eval_loss"].optimal) in PREFERENCE
    assert [o["C"] for o in bl["optimum"]] == [1e19, 1e21]
    for o in bl["optimum"]:
        assert o["N"] == pytest.approx(o["by_approach"][bl["approach"]])
        assert o["D"] == pytest.approx(o["C"] / (6 * o["N"]))
        assert o["extrapolation"]["C"] == pytest.approx(max(1.0, o["C"] / rng["C"][1], rng["C"][0] / o["C"]))
    assert bl["optimum"][1]["extrapolation"]["C"] > 2  # 1e21 is past the largest run: labelled
    assert [c["improvement"] for c in bl["costs"]] == [0.01, 0.02, 0.05]
    for key in ("predictions", "targets"):
        for e in s[key]["eval_loss"]:
            assert set(e["extrapolation"]) == {"N", "D", "C"}
    assert bl["caveat"]


def test_outlying_run_is_a_finding():
    df = finals_frame(noise=0.002)
    df.loc[df["run"] == "r7", "loss"] *= 1.06  # one run 6% off the law
    an = scalekit.analyze(scalekit.load_batch(df), n_boot=50)
    (f,) = [f for f in an.findings if f.check == "outliers"]
    assert [r["run"] for r in f.evidence["runs"]] == ["r7"]
    assert f.evidence["runs"][0]["error_vs_law"] > 0.04


def test_chinchilla_budget_is_labelled_an_extrapolation(chinchilla):
    # Hoffmann et al. 2022 size Chinchilla for 5.76e23 FLOPs: 44x the compute of the largest run in the data.
    b = scalekit.load_batch(chinchilla, metrics=["loss"], name="chinchilla")
    an = scalekit.analyze(b, n_boot=100, budgets=[5.76e23])
    bl = an.summary()["bottom_line"]["loss"]
    (o,) = bl["optimum"]
    assert o["extrapolation"]["C"] == pytest.approx(44.5, rel=0.01)
    # every approach puts N_opt near the published 63-67B (Approaches 1 and 2) and 70B (Chinchilla itself)
    assert all(40e9 < n < 110e9 for n in o["by_approach"].values()), o["by_approach"]
    ext = [f for f in an.findings if f.check == "extrapolation" and f.evidence.get("optima")]
    assert ext and ext[0].severity == "warning"


def test_one_formatter():
    assert (num(9.999e5), num(2e7), fmt(True), fmt(None)) == ("1.00×10⁶", "2.00×10⁷", "yes", "–")
    assert params(8.94e11) == "894B" and data(2.0e10, "tokens") == "20.0B tokens" and compute(3.8e25) == "3.80×10²⁵ FLOP"
    assert fmt_ci(0.3473, [0.3157, 0.3721]) == "0.347 [0.316–0.372]"
    assert prose("C=1e+16 and N=4.53e+07") == "C=1.00×10¹⁶ and N=4.53×10⁷"
    assert np.isnan(float("nan")) and num(float("nan")) == "–"


def test_bottom_line_speaks_for_the_form_the_backtest_chose():
    """Perception is generated from Kaplan's interacting law: the bottom line, targets and Approach 3 use it."""
    frame, cfg = example_source("perception")
    an = scalekit.analyze(scalekit.load_batch(frame, **cfg).select_version("v1"), n_boot=100)
    ma, bl = an.metrics["map"], an.bottom_lines["map"]
    assert ma.law.form.name == "kaplan" and bl.form == "kaplan" and set(bl.params) == set(ma.law.params)
    for op in bl.optima:
        assert op.value == pytest.approx(float(ma.law.predict(op.N, op.D, warn=False)))
    for t in ma.targets:  # each target reached on the chosen law at its cheapest point
        assert float(ma.law.predict(t.N, t.D, warn=False)) == pytest.approx(t.value, rel=1e-4)
    r = ma.law.params["alpha_N"] / ma.law.params["alpha_D"]
    assert ma.optimal["parametric"].a == pytest.approx(1 / (1 + r), rel=2e-3)
    assert bl.summary()["law"]["form"] == "kaplan"


# --- laws in more variables than N and D (issue 21) ----------------------------------------------------------------
def test_on_repeated_data_auto_chooses_a_law_in_the_unique_tokens_and_the_bottom_line_follows_the_data():
    """Muennighoff et al. 2023's published law generates the batch (1% noise): auto chooses a law that reads U, the
    bottom line states its variables, answers in N and D at the best run's unique tokens, and what better costs there is
    what the true law says: more compute than the best run, the target met by the truth within 1%."""
    from scalekit.laws.forms import get_form

    from ..laws.test_declared_variables import MUENNIGHOFF, repeated

    batch = scalekit.load_batch(repeated())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        an = scalekit.analyze(batch, n_boot=50, n_boot_optimal=20, targets=[0.01, 0.02])
    ma = an.metrics["loss"]
    assert "U" in ma.law.form.variables and ma.selection.chosen == ma.law.form.name
    bl = an.bottom_lines["loss"]
    assert bl.form == ma.law.form.name and "U" in bl.variables
    assert bl.held_at == {"U": float(batch.finals().set_index("run").loc[bl.best["run"], "U"])}
    truth = get_form("data_constrained")
    theta = truth.internal(MUENNIGHOFF)
    reached = [c for c in bl.costs if c.reachable and not c.withheld]
    assert reached
    for c in reached:
        assert c.compute_multiple > 1.0  # better than the best run costs more than it (the law said 0.22x)
        true_there = float(np.exp(truth.log_predict(theta[None], np.log([[c.N, c.D, bl.held_at["U"]]]))[0, 0]))
        assert true_there == pytest.approx(c.value, rel=0.01)
    s = bl.summary()
    assert s["law"]["variables"] == list(bl.variables) and s["law"]["held_at"]["U"] == bl.held_at["U"]
    assert {p["variable"] for p in s["along_variables"]} == {"N", "D", "U"}


def test_the_bottom_line_of_a_batch_without_a_data_size_states_its_law_and_why_nothing_in_n_and_d_is_given():
    from ..data.test_variables import experts_frame

    b = scalekit.load_batch(experts_frame(), variables={"N": "params", "E": "num_experts"}, law="L0 + A * N^-alpha * E^-gamma")
    an = scalekit.analyze(b, n_boot=50)
    bl = an.bottom_lines["loss"]
    assert bl.variables == ("N", "E") and bl.form == "custom" and set(bl.params) == {"L0", "A", "alpha", "gamma"}
    assert not bl.optima and not bl.costs and "no data size" in bl.skipped
    along = {(p["variable"], p["factor"]): p for p in bl.along}
    assert along["E", 10.0]["extrapolation"]["E"] == pytest.approx(10.0) and along["E", 10.0]["extrapolation"]["N"] == 1.0
    assert along["E", 10.0]["value"] < along["E", 2.0]["value"]  # more experts, lower loss, as the law says
    ma = an.metrics["loss"]
    assert ma.skipped and ma.grid is None and not ma.optimal
    assert all(f.check in ("identifiability", "excluded_runs") for f in an.findings)
    import json

    json.dumps(an.summary(), allow_nan=False)
