"""An optimum outside any sane range is withheld with its reason: in the analysis, summary.json, the report and index."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scalekit

from ..helpers import scalekit_cli, synthetic_frame


def _one_sided():
    """A batch whose data term is near zero: the fitted law puts every FLOP into N (N ~ 1e20 on D < 1 token)."""
    return synthetic_frame(B=50, beta=0.9, alpha=0.25, noise=0.003, sizes=4, datas=4)


def test_an_absurd_optimum_is_withheld_with_the_reason_and_a_sane_one_is_not():
    b = scalekit.load_batch(_one_sided())
    an = scalekit.analyze(b, n_boot=10, n_boot_optimal=5, budgets=[1e19])
    (op,) = an.bottom_lines["loss"].optima
    assert op.approach == "parametric" and op.D / op.N < 1e-3  # what the law gives: no answer (a few tokens per parameter
    # or less than one token, as the fit lands)
    assert op.withheld is not None and any(w in op.withheld for w in ("less than one token", "tokens per parameter"))
    assert "beyond the trained range" in op.withheld or "below the trained" in op.withheld
    s = json.loads(json.dumps(an.summary(), allow_nan=False))["bottom_line"]["loss"]["optimum"][0]
    assert s["N"] is None and s["D"] is None and s["withheld"] == op.withheld
    ext = [f for f in an.findings if f.check == "extrapolation" and f.metric == "loss"]
    assert ext and "withheld" in ext[0].message and f"{op.N:.3g}" not in ext[0].message

    sane = scalekit.analyze(scalekit.load_batch(synthetic_frame(noise=0.003, sizes=4, datas=4)), n_boot=10,
                            n_boot_optimal=5, budgets=[1e22])  # 100x beyond the largest run: an extrapolation, an answer
    (op2,) = sane.bottom_lines["loss"].optima
    assert op2.withheld is None and np.isfinite(op2.N) and op2.D > 1e10


@pytest.mark.slow
def test_the_report_and_index_withhold_it(tmp_path):
    f = tmp_path / "onesided.csv"
    _one_sided().to_csv(f, index=False)
    out = tmp_path / "site"
    scalekit_cli("report", str(f), "--out", str(out), "--n-boot", "10", "--set", "budgets=[1e19]", "--jobs", "1", "--quiet")
    page = (out / "onesided" / "report.html").read_text()
    summary = json.loads((out / "onesided" / "summary.json").read_text())
    op = summary["bottom_line"]["loss"]["optimum"][0]
    assert op["withheld"] and op["N"] is None
    assert 'class="sk-optimum sk-withheld"' in page and "no optimum is given" in page
    assert "train <b>N =" not in page  # no (N, D) stated as the answer
    index = (out / "index.html").read_text()
    assert f"withheld: {op['withheld'][:20]}" in index
