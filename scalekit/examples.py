"""Example batches that look like the experiments teams run, generated from known laws.

* ``behavior``: a trajectory-prediction transformer, capacity 1x to 32x, training data 1x to
  7x, checkpoints along each run with ``train_loss``, ``eval_loss`` and ``min_ade`` (metres,
  lower is better). As in the seed experiments, the 32x model overfits when data is small
  (1x: eval loss turns up while train loss keeps falling) and has not converged when data is
  large (7x: its curve is still falling faster than the law by the end).
* ``perception``: a detection backbone 1x to 11x on 7.5% to 100% of the data, final ``map``
  (higher is better, bound 1), two backbone families in a ``version`` column. ``1 - map``
  follows Kaplan et al.'s interacting law, so the larger backbones' mAP gain grows with the
  data fraction (the seed's claim); v2 shares v1's exponents and needs less compute.

Every value derives from :data:`TRUTH` plus seeded noise, so tests can check that reports
recover the true exponents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .exceptions import ConfigError
from .iorw import atomic_write_text
from .laws.evaluate import form_error, law_error

__all__ = ["EXAMPLES", "TRUTH", "behavior_frame", "example_source", "perception_frame", "write_examples"]

TRUTH: dict[str, dict[str, dict[str, float]]] = {
    "behavior": {
        "eval_loss": {"E": 0.9, "A": 60.0, "alpha": 0.32, "B": 250.0, "beta": 0.38},
        # min_ade shares eval_loss's exponents and A/B ratio: the law transfers across metrics
        "min_ade": {"E": 0.55, "A": 24.0, "alpha": 0.32, "B": 100.0, "beta": 0.38},
    },
    # 1 - mAP follows Kaplan et al.'s interacting law: a bigger backbone gains little on little data and
    # clearly on all of it. v2 shares v1's exponents and is more efficient (smaller N_c and D_c).
    "perception v1": {"map": {"N_c": 1.1e6, "D_c": 3.2e4, "alpha_N": 0.25, "alpha_D": 0.3}},
    "perception v2": {"map": {"N_c": 0.8e6, "D_c": 2.6e4, "alpha_N": 0.25, "alpha_D": 0.3}},
}
PERCEPTION_FORM = "kaplan"

BEHAVIOR_N0, BEHAVIOR_D0, BEHAVIOR_BS = 3e6, 2e7, 256
BEHAVIOR_SCALES_N = (1, 2, 4, 8, 16, 32)
BEHAVIOR_SCALES_D = (1, 2, 4, 7)
PERCEPTION_N0, PERCEPTION_D0 = 11.2e6, 1.2e6
PERCEPTION_SCALES_N = (1.0, 1.9, 2.3, 4.0, 5.4, 11.0)
PERCEPTION_FRACTIONS = (0.075, 0.15, 0.3, 0.6, 1.0)


def behavior_frame(seed: int = 0, checkpoints: int = 20, noise: float = 0.003) -> pd.DataFrame:
    """The behavior batch as a DataFrame (one row per run and checkpoint)."""
    rng = np.random.default_rng(seed)
    tl, ta = TRUTH["behavior"]["eval_loss"], TRUTH["behavior"]["min_ade"]
    rows: list[dict[str, Any]] = []
    for ns in BEHAVIOR_SCALES_N:
        N = BEHAVIOR_N0 * ns
        for ds in BEHAVIOR_SCALES_D:
            total = BEHAVIOR_D0 * ds
            steps = np.unique(np.round(np.geomspace(0.05, 1.0, checkpoints) * total / BEHAVIOR_BS).astype(int))
            t = steps * BEHAVIOR_BS / total  # fraction of the run
            D_t = steps * BEHAVIOR_BS
            d_eff = D_t.astype(float)
            if ns == 32 and ds == 7:  # not converged: effective data lags, so the tail falls too fast
                d_eff = D_t * (0.2 + 0.5 * t)
            ev = law_error(tl, N, d_eff)
            ade = law_error(ta, N, d_eff)
            tr = ev - 0.05
            if ns == 32 and ds == 1:  # overfits: eval turns up after 40% of the run, train keeps falling
                over = np.clip(t - 0.4, 0, None)
                ev = ev + 0.25 * over
                ade = ade + 0.2 * over
                u = np.clip((t - 0.3) / 0.3, 0, 1)  # the train/eval gap opens mid-run, then holds
                tr = tr - 0.1 * u * u * (3 - 2 * u)
            z = rng.standard_normal((3, len(steps)))
            for i, s in enumerate(steps):
                rows.append({
                    "run": f"behavior-{ns}x-{ds}x", "model_scale": f"{ns}x", "data_scale": f"{ds}x",
                    "params": N, "step": int(s), "batch_size": BEHAVIOR_BS,
                    "train_loss": tr[i] * np.exp(noise * z[0, i]),
                    "eval_loss": ev[i] * np.exp(noise * z[1, i]),
                    "min_ade": ade[i] * np.exp(noise * z[2, i]),
                })
    return pd.DataFrame(rows)


def perception_frame(seed: int = 1) -> pd.DataFrame:
    """The perception batch: final mAP per (backbone, data fraction, version)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for version in ("v1", "v2"):
        p = TRUTH[f"perception {version}"]["map"]
        for ns in PERCEPTION_SCALES_N:
            for frac in PERCEPTION_FRACTIONS:
                N, D = PERCEPTION_N0 * ns, PERCEPTION_D0 * frac
                err = float(form_error(PERCEPTION_FORM, p, N, D))
                sd = 0.001 * (0.3 / frac) ** 0.5  # fewer images, more seed variance
                rows.append({
                    "run": f"{version}-{ns:g}x-{frac:g}", "version": version, "backbone_scale": f"{ns:g}x",
                    "data_fraction": frac, "params": N, "samples": D,
                    "map": float(1.0 - err + sd * rng.standard_normal()),
                })
    return pd.DataFrame(rows)


_BEHAVIOR_YAML = """\
name: behavior
description: Trajectory-prediction transformer (encoder), capacity 1x-32x, training data 1x-7x.
metrics:
  - {name: eval_loss, direction: min}
  - {name: min_ade, direction: min}
  - {name: train_loss, direction: min}
target: 0.01
budgets: [1.0e+16, 1.0e+17]
max_params: 5.0e+7
"""

_PERCEPTION_YAML = """\
name: perception
description: Detection backbone 1x-11x on 7.5%-100% of the training images; mAP, two backbone families.
ignore: [data_fraction]
metrics:
  - {name: map, direction: max, bound: 1}
target: 0.01
budgets: [1.0e+15, 1.0e+16]
"""

EXAMPLES = ("behavior", "perception")


def write_examples(folder: str | Path) -> list[Path]:
    """Write the example batches (CSV + YAML) into ``folder``; returns the data files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    examples = (("behavior", behavior_frame(), _BEHAVIOR_YAML), ("perception", perception_frame(), _PERCEPTION_YAML))
    for name, frame, config_text in examples:
        p = folder / f"{name}.csv"
        atomic_write_text(p, frame.to_csv(index=False, float_format="%.8g"))
        atomic_write_text(p.with_suffix(".yaml"), config_text)
        out.append(p)
    return out


def example_source(name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """An embedded example as (DataFrame, config dict), without touching the disk."""
    if name == "behavior":
        return behavior_frame(), yaml.safe_load(_BEHAVIOR_YAML)
    if name == "perception":
        return perception_frame(), yaml.safe_load(_PERCEPTION_YAML)
    raise ConfigError(f"unknown example {name!r}; expected one of {list(EXAMPLES)}", key="example")
