"""A batch whose `hparams:` sweep a learning rate and batch size renders "Hyperparameters at scale", and the page
states the numbers summary.json states (one bootstrap count)."""

from __future__ import annotations

import json

from scalekit.render.site import render_site
from scalekit.report.format import fmt_ci, params

from ..pipeline.test_hparams_summary import curve_sweep


def test_a_sweep_renders_the_section_with_the_numbers_of_summary_json(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    curve_sweep().to_csv(data / "curves.csv", index=False)
    (data / "curves.yaml").write_text("name: lr <sweep>\nhparams: [lr, batch_size]\n"
                                      "options: {seq_len: 2048, hparam_N: [3.0e+9], hparam_D: [1.0e+11]}\n")
    site = render_site([data], out=tmp_path / "site", jobs=1, progress=False,
                       parameters={"n_boot": 20, "n_boot_optimal": 40})
    assert site.ok
    folder = next(p for p in (tmp_path / "site").iterdir() if (p / "summary.json").is_file())
    h = json.loads((folder / "summary.json").read_text())["hyperparameters"]["loss"]
    html = (folder / "report.html").read_text()
    assert "Hyperparameters at scale" in html and h["n_boot"] == 40 and "40 bootstrap resamples" in html
    asked = next(a for a in h["answers"] if a["label"] == "asked")
    lr = asked["lr"]["bowls"]
    B = asked["batch_tokens"]["bowls"]
    assert fmt_ci(lr["value"], lr["ci"]) in html and fmt_ci(B["value"], B["ci"], params) in html
    assert h["critical_batch"] is not None and "Critical batch per cell" in html
    assert "lr &lt;sweep&gt;" in html or "<sweep>" not in html.split("<body", 1)[-1]
