"""Reports of laws in other variables, rendered with the real papermill: a batch without a data size (experts only)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from ..data.test_variables import experts_frame
from ..helpers import scalekit_cli
from .test_chosen_law import _section, _text


@pytest.mark.slow
def test_a_batch_in_n_and_experts_without_a_data_size_renders_its_law_along_each_variable(tmp_path):
    data = tmp_path / "moe.csv"
    experts_frame().to_csv(data, index=False)
    (tmp_path / "moe.yaml").write_text(yaml.safe_dump({
        "name": "moe experts", "variables": {"N": "params", "E": "num_experts"},
        "law": {"name": "moe", "formula": "L0 + A * N^-alpha * E^-gamma"}}))
    out = tmp_path / "site"
    scalekit_cli("report", str(data), "--out", str(out), "--n-boot", "20", "--jobs", "1", "--quiet")
    summary = json.loads((out / "moe-experts" / "summary.json").read_text())
    bl = summary["bottom_line"]["loss"]
    assert bl["law"]["form"] == "moe" and bl["law"]["variables"] == ["N", "E"] and "no data size" in bl["skipped"]
    assert summary["fits"]["loss"]["form"] == "moe" and summary["batch"]["ranges"]["E"] == [1.0, 32.0]
    page = (out / "moe-experts" / "report.html").read_text()
    top = _text(_section(page, "Bottom-line"))
    assert "The moe law reads N, E" in top and "the batch has no data size D" in top
    assert "loss along each variable of the moe law" in top and "E 10.0×" in top  # extrapolation distance along E
    law = _section(page, "Fitted-performance-law")
    assert "loss along E at the batch" in law and "loss along N at the batch" in law  # one panel per variable
    for anchor in ("Compute-optimal-model-and-data-size", "Relative-improvement-grid"):
        assert "the batch has no data size D" in _text(_section(page, anchor))  # skipped, saying why
    assert not re.search(r"Traceback|Error", _text(page))
    assert "the moe law in N, E; the batch has no data size D" in _text((out / "index.html").read_text())


@pytest.mark.slow
def test_a_metric_below_zero_renders_fitted_on_linear_residuals_and_the_report_says_so(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    N, D = [a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 6), np.geomspace(1e9, 1e11, 5))]
    y = -0.7 + 400 / N ** 0.34 + 410 / D ** 0.28 + 0.005 * rng.standard_normal(N.size)  # a loss minus a baseline
    data = tmp_path / "negative.csv"
    pd.DataFrame({"params": N, "tokens": D, "normalised_loss": y}).to_csv(data, index=False)
    out = tmp_path / "site"
    scalekit_cli("report", str(data), "--out", str(out), "--n-boot", "20", "--jobs", "1", "--quiet")
    fit = json.loads((out / "negative" / "summary.json").read_text())["fits"]["normalised_loss"]
    assert fit["residual_scale"] == "linear" and fit["params"]["E"] < 0
    law = _text(_section((out / "negative" / "report.html").read_text(), "Fitted-performance-law"))
    assert "fitted to normalised_loss on linear residuals" in law and "RMSE of residuals" in law
    assert "at its bound (zero)" not in (out / "negative" / "report.html").read_text()  # a floor below zero is no bound
