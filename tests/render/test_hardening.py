"""Issue 24, the site's side: a batch with a law in one variable, linked data files, formula cells in CSV
downloads, links planted in the output folder, a page truncated after publishing, the Reproduce box, and
parameters papermill's own CLI injects. Everything through the real CLI, papermill and file system."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest

from ..conftest import ROOT
from ..helpers import jsonl_runs, scalekit_cli, small_batch

pytestmark = pytest.mark.slow

FAST = ["--n-boot", "0", "--set", "n_boot_optimal=10", "--set", "n_boot_backtest=10", "--set", "thresholds.n_boot_checks=5",
        "--quiet"]
EVIL = '=HYPERLINK("http://evil.example","click")'


def u_shaped(path: Path) -> None:
    """One data size, a loss that falls then rises with N: no additive law, a law in N alone is chosen."""
    rng = np.random.default_rng(0)
    N = np.geomspace(1e7, 1e9, 8)
    loss = (2.0 + 0.2 * (np.log10(N) - 8.3) ** 2) * np.exp(0.002 * rng.standard_normal(N.size))
    pd.DataFrame({"run": [f"u{i}" for i in range(N.size)], "params": N, "tokens": 2e10, "loss": loss}).to_csv(path, index=False)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A U-shaped batch beside a batch whose data file is a link to a suffix-less file, with a YAML beside the link
    naming it with a formula, and runs named with formulas (one diverged, so listed as excluded)."""
    root = tmp_path_factory.mktemp("mixed")
    store, data = root / "store", root / "data"
    names = [EVIL, "@SUM(A1)", "+cmd", "-2+3"] + [f"r{i}" for i in range(16)]
    small_batch(store, "tmp", run_names=names)
    blob = store / "blob"  # no suffix: read as the link's .csv
    df = pd.read_csv(store / "tmp.csv")
    df.loc[0, "loss"] = np.nan  # diverged: listed in the excluded-runs table under its formula name
    df.to_csv(blob, index=False)
    (store / "tmp.csv").unlink()
    data.mkdir()
    (data / "hostile.csv").symlink_to(blob)
    (data / "hostile.yaml").write_text(f"name: '{EVIL}'\nmetrics: [{{name: loss, direction: min}}]\n")
    u_shaped(data / "u.csv")
    out = root / "site"
    p = scalekit_cli("report", str(data), "--out", str(out), *FAST, check=False)
    return data, out, p


def slug_of(out: Path, name: str) -> str:
    return next(d.name for d in out.iterdir() if (d / "summary.json").is_file()
                and json.loads((d / "summary.json").read_text())["batch"]["name"] == name)


def test_a_batch_whose_law_is_in_one_variable_does_not_take_the_index_down(mixed):
    """Before: the index's comparison multiplied the U batch's null additive parameters, exit 3 after rendering all."""
    _, out, p = mixed
    assert p.returncode == 0, p.stderr[-3000:]
    u = json.loads((out / "u" / "summary.json").read_text())
    assert u["fits"]["loss"]["form"] not in ("two_var", "kaplan")  # a law in N alone was chosen
    index = (out / "index.html").read_text()
    assert "no compute-optimal frontier from the law of u (" in index and "not a law in N and D" in index
    assert (out / "compare.html").is_file() and not (out / "compare-failed.html").exists()


def test_a_linked_data_file_is_read_as_the_link(mixed):
    """The YAML beside the link names the batch, and the link's .csv suffix reads the suffix-less target."""
    data, out, _ = mixed
    s = json.loads((out / slug_of(out, EVIL) / "summary.json").read_text())
    assert s["batch"]["source"] == str(data / "hostile.csv")
    assert [e["run"] for e in s["batch"]["excluded"]] == [EVIL]


def csv_cells(page: Path) -> list[tuple[str, list[list[str]]]]:
    """(download name, rows) of every CSV download on a page."""
    text = page.read_text()
    return [(name, list(csv.reader(io.StringIO(unquote(href)))))
            for name, href in re.findall(r'download="([^"]+)" href="data:text/csv;charset=utf-8,([^"]*)"', text)]


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?")


def test_csv_downloads_hold_no_formula(mixed):
    """Every CSV of every page: no cell starts a formula (=, +, -, @, tab, CR) unless it is a number."""
    _, out, _ = mixed
    pages = [out / "index.html", out / "compare.html", *out.glob("*/report.html")]
    seen: dict[str, list[str]] = {}
    for page in pages:
        for name, rows in csv_cells(page):
            for row in rows:
                for cell in row:
                    assert not (cell[:1] in tuple("=+-@\t\r") and not NUMBER.fullmatch(cell)), (page.name, name, cell)
                    seen.setdefault(name, []).append(cell)
    assert "'" + EVIL in seen["batches.csv"]  # the batch name, neutralised, in the index's table
    assert any("'" + EVIL in cells for name, cells in seen.items() if "excluded" in name)  # the run name
    from scalekit.report.html import csv_link  # numbers stay numbers, as text or as floats

    href = re.search(r'href="data:text/csv;charset=utf-8,([^"]*)"', csv_link(["h"], [["-0.5"], [-1.5], ["+2%"], ["-x"], ["@x"]], "t"))
    assert href is not None
    assert [r[0] for r in csv.reader(io.StringIO(unquote(href.group(1))))] == ["h", "-0.5", "-1.5", "+2%", "'-x", "'@x"]


def test_a_page_truncated_after_publishing_is_rendered_again(mixed, tmp_path):
    """Before: the cache compared only the inputs, so a report.html cut short by something else was kept for ever."""
    data, out, _ = mixed
    site = tmp_path / "site"
    shutil.copytree(out, site, symlinks=True)
    slug = slug_of(site, EVIL)
    page = site / slug / "report.html"
    whole = page.read_text()
    page.write_text(whole[: len(whole) // 3])  # a writer killed mid-page
    (site / "compare.html").write_text("<!DOCTYPE html><html><body>cut")
    p = scalekit_cli("report", str(data), "--out", str(site), *FAST)
    assert re.search(rf"rendered\s+{slug}:", p.stdout) and re.search(r"skipped\s+u:", p.stdout), p.stdout
    again = page.read_text()
    assert again.rstrip().endswith("</html>") and abs(len(again) - len(whole)) < 0.05 * len(whole)
    assert "Exponents side by side" in (site / "compare.html").read_text()
    p = scalekit_cli("report", str(data), "--out", str(site), *FAST)  # and now both are served from the cache
    assert re.search(rf"skipped\s+{slug}:", p.stdout) and re.search(r"skipped\s+u:", p.stdout), p.stdout


def one_line_exit_2(p: subprocess.CompletedProcess) -> None:
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_links_in_the_output_folder_are_never_followed(tmp_path):
    batch = small_batch(tmp_path / "data", "linked")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "site"
    out.mkdir()
    (out / ".scalekit.lock").symlink_to(victim)  # before: truncated and overwritten with "pid ..., started ..."
    p = scalekit_cli("report", str(batch), "--out", str(out), *FAST, check=False)
    one_line_exit_2(p)
    assert "is a symbolic link" in p.stderr and victim.read_text() == "precious\n"
    (out / ".scalekit.lock").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "linked").symlink_to(elsewhere, target_is_directory=True)  # before: the report was written into elsewhere/
    p = scalekit_cli("report", str(batch), "--out", str(out), *FAST, check=False)
    one_line_exit_2(p)
    assert f"{out / 'linked'} (the folder of batch 'linked') is a symbolic link" in p.stderr
    assert not any(elsewhere.iterdir()) and victim.read_text() == "precious\n"


def reproduce_command(page: Path) -> list[str]:
    box = re.search(r'<div class="sk-reproduce"[^>]*>.*?<pre><code>(.*?)</code></pre>', page.read_text(), re.S)
    assert box is not None
    cmd = shlex.split(html.unescape(box.group(1)))
    assert cmd[0] == "scalekit"
    return [sys.executable, "-m", "scalekit", *cmd[1:]]


def test_the_reproduce_box_rebuilds_the_same_report(tmp_path):
    """A tracker folder whose N comes from a runs table named relatively in a --config elsewhere (with the columns
    swapped), --metric, and run options: the printed command, run from another folder, gives the same fits.
    Before: it kept only the run options (another law, or a failure on the runs table)."""
    logs, cfg = jsonl_runs(tmp_path)
    work, other = tmp_path / "work", tmp_path / "other"
    work.mkdir()
    other.mkdir()
    first = subprocess.run([sys.executable, "-m", "scalekit", "report", str(logs), "--config", str(cfg), "--metric", "eval_loss",
                            "--out", str(tmp_path / "site1"), "--set", "form=two_var", *FAST], cwd=work, capture_output=True,
                           text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    s1 = json.loads((tmp_path / "site1" / "swapped" / "summary.json").read_text())
    assert list(s1["fits"]) == ["eval_loss"] and s1["fits"]["eval_loss"]["params"]["alpha"] == pytest.approx(0.34, abs=0.03)
    cmd = reproduce_command(tmp_path / "site1" / "swapped" / "report.html")
    again = subprocess.run([*cmd, "--out", str(tmp_path / "site2"), "--quiet"], cwd=other, capture_output=True, text=True)
    assert again.returncode == 0, (cmd, again.stderr[-3000:])
    s2 = json.loads((tmp_path / "site2" / "swapped" / "summary.json").read_text())
    for key in ("form", "params", "objective", "ndata"):
        assert s2["fits"]["eval_loss"][key] == s1["fits"]["eval_loss"][key], key
    assert s2["options"] == s1["options"] and s2["batch"]["runs"] == s1["batch"]["runs"]


@pytest.mark.parametrize("notebook, params", [("batch_report.ipynb", ["-p", "nboot", "5"]),
                                              ("compare_batches.ipynb", ["-p", "summaries", "[]"])])
def test_papermill_refuses_parameters_the_notebook_does_not_declare(tmp_path, notebook, params):
    """Before: `papermill batch_report.ipynb out.ipynb -p nboot 5` rendered the default report, exit 0."""
    p = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / notebook), str(tmp_path / "out.ipynb"),
                        *params, "--cwd", str(tmp_path)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode != 0 and f"got unknown parameter(s) ['{params[1]}']" in p.stderr, p.stderr[-2000:]


def test_a_relative_runs_table_in_set_is_read_from_the_current_folder(tmp_path):
    """`--set source={runs: cfg/runs.csv}` worked for `fit` and failed for `report`, whose notebook runs elsewhere."""
    jsonl_runs(tmp_path)  # tmp_path/logs and tmp_path/cfg/runs.csv
    p = subprocess.run([sys.executable, "-m", "scalekit", "report", "logs", "--set", "source={runs: cfg/runs.csv}",
                        "--set", "columns={params: data}", "--set", "ignore=[size]", "--set", "name=swapped",
                        "--metric", "eval_loss", "--set", "form=two_var", "--out", "site", *FAST], cwd=tmp_path,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    s = json.loads((tmp_path / "site" / "swapped" / "summary.json").read_text())
    assert s["fits"]["eval_loss"]["params"]["alpha"] == pytest.approx(0.34, abs=0.03)
