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
