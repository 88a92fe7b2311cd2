"""The "Hyperparameters at scale" section on sweeps that are not laid out like the StepLaw example: data sizes that
are not round numbers, no bootstrap, no data size, batches counted in samples."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd

import scalekit
from scalekit.report import figures as plots
from scalekit.report import sections as sec

LRS = tuple(np.geomspace(1e-4, 1e-2, 5))


def _sweep(Ns=(1e8, 3e8, 1e9), Ds=(2e9, 8e9), lrs=LRS, Bs=(2 ** 17, 2 ** 19, 2 ** 21)):
    rng = np.random.default_rng(0)
    rows = []
    for N in Ns:
        for D in Ds:
            lro, Bo, base = 0.075 * N ** -0.35 * D ** 0.1, 3 * D ** 0.5, 1.8 + 400 / N ** 0.34 + 400 / D ** 0.28
            for lr in lrs:
                for B in Bs:
                    x, y = np.log(lr / lro), np.log(B / Bo)
                    rows.append({"run": f"N{N:.0e}-D{D:.0e}-lr{lr:.3g}-B{B}", "params": N, "tokens": D, "lr": lr,
                                 "batch_size": B, "loss": base * (1 + 0.004 * x * x + 0.002 * y * y)
                                 * np.exp(0.0005 * rng.standard_normal())})
    return pd.DataFrame(rows)


def _analyse(df, n_boot_optimal=20, **cfg):
    b = scalekit.load_batch(df, name="sweep", hparams=["lr", "batch_size"], **cfg)
    return b, scalekit.analyze(b, n_boot=20, n_boot_optimal=n_boot_optimal, checks=False)


def test_bowls_figure_draws_each_cells_runs_when_token_counts_are_not_round():
    df = _sweep()
    df["tokens"] *= 1.0003  # 2.0006e9: the cells are keyed to 3 significant digits
    b, an = _analyse(df)
    fig = plots.hparam_bowls_figure(an.hyperparameters["loss"], b)
    points = [len(line.get_xdata()) for ax in fig.axes for line in ax.lines if line.get_marker() == "o"]
    assert points and all(n == 5 for n in points), points  # every cell's five learning rates


def test_without_a_bootstrap_the_cost_of_2x_is_one_sentence_and_no_interval_is_claimed():
    _, an = _analyse(_sweep(), n_boot_optimal=0)
    html = sec.hparams_answers_html(an.hyperparameters["loss"]).html
    assert "loss, lr off 2x" not in html and "A learning rate off by 2x" in html
    assert "bootstrap is off" in html and "0 bootstrap resamples" not in html


def test_budget_labels_are_written_in_powers_of_ten():
    _, an = _analyse(_sweep())
    labels = [a.label for a in an.hyperparameters["loss"].answers if a.label.startswith("optimum at")]
    assert labels and all("×10^" in lab and "e+" not in lab for lab in labels), labels


def test_a_sweep_without_a_data_size_gets_its_section_and_says_where_to_ask():
    df = _sweep(Ds=(2e9,)).drop(columns="tokens")
    df["experts"] = np.where(np.arange(len(df)) % 2, 8, 16)
    _, an = _analyse(df, variables={"N": "params", "E": "experts"}, law="L0 + A*N^-alpha*E^-g")
    h = an.hyperparameters["loss"]
    assert len(h.laws.bowls) == 3  # one cell per model size
    assert "hparam_N and hparam_D" in sec.hparams_answers_html(h).html


def test_batch_sizes_in_sequences_only_when_the_batch_counts_tokens():
    df = _sweep()
    _, an = _analyse(df, seq_len=2048)
    assert an.hyperparameters["loss"].seq_len == 2048
    steps = _sweep().rename(columns={"tokens": "steps"})
    steps["steps"] = (steps["steps"] / steps["batch_size"]).round()  # D = steps x batch_size, counted in samples
    b, an = _analyse(steps, seq_len=2048)
    assert b.data_unit != "tokens" and an.hyperparameters["loss"].seq_len is None
