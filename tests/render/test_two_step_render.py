"""A batch declaring `two_step` renders the "Two-step prediction" section and writes summary.json's section."""

from __future__ import annotations

import json

from scalekit.render.site import render_site

from ..laws.test_two_step import ladder


def test_declared_two_step_shows_the_section_and_writes_the_summary(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    ladder(0, ckpts=8).drop(columns="task_err").to_csv(data / "ladder.csv", index=False)
    (data / "ladder.yaml").write_text(
        "name: two-step <ladder>\n"
        "metrics:\n  - {name: task_bpb, direction: min}\n  - {name: task_acc, direction: max, bound: 1}\n"
        "two_step:\n  - {intermediate: task_bpb, target: task_acc, step2: sigmoid, at: [{N: 2.0e+9, D: 1.0e+11}]}\n")
    site = render_site([data], out=tmp_path / "site", jobs=1, progress=False, parameters={"n_boot": 20})
    assert site.ok
    folder = next(p for p in (tmp_path / "site").iterdir() if (p / "summary.json").is_file())
    s = json.loads((folder / "summary.json").read_text())
    e = s["two_step"]["task_bpb->task_acc"]
    assert e["step2"]["map"] == "sigmoid" and e["predictions"][0]["lo"] is not None
    html = (folder / "report.html").read_text()
    assert "Two-step prediction" in html and "95% prediction interval" in html
    assert "Two-step prediction of task_acc" in html  # the figure's alt text
    assert "two-step &lt;ladder&gt;" in html or "<ladder>" not in html.split("<body", 1)[-1]
