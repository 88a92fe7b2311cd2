"""Nothing lost (issue 13): unique stable slugs, reserved names, one run per folder, private scratch,
index and comparison from the summaries on disk, recovery from corrupt caches, full or read-only
disks, and workers and kernels that die with the parent."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from scalekit.render.jobs import Job
from scalekit.render.publish import count_images, render_batch
from scalekit.render.resources import report_notebook
from scalekit.render.site import render_site, site_lock

from ..helpers import scalekit_cli, small_batch

pytestmark = pytest.mark.slow

NB = ["--n-boot", "20", "--set", "n_boot_optimal=10", "--set", "thresholds.n_boot_checks=5"]


def summary(site: Path, slug: str) -> dict:
    return json.loads((site / slug / "summary.json").read_text())


@pytest.fixture(scope="module")
def colliding(tmp_path_factory):
    """Foo.csv, foo-2.csv, foo.csv and batches named index.html and compare.html, rendered once."""
    root = tmp_path_factory.mktemp("collide")
    data = root / "data"
    for i, stem in enumerate(("Foo", "foo-2", "foo")):
        small_batch(data, stem, seed=i)
    small_batch(data, "index.html", seed=3)
    small_batch(data, "cmp", seed=4, yaml="name: compare.html\n")
    out = root / "site"
    p = scalekit_cli("report", str(data), "--out", str(out), "--jobs", "2", *NB)
    return data, out, p


def test_slugs_are_unique_and_reserved_names_are_not_folders(colliding):
    _, out, _ = colliding
    site = json.loads((out / "site.json").read_text())
    slugs = {Path(k.split("#")[0]).name: v for k, v in site["inputs"].items()}
    assert len(set(slugs.values())) == 5, slugs  # before: Foo -> foo, foo-2 -> foo-2, foo -> foo-2 (overwritten)
    assert slugs["Foo.csv"] == "foo" and slugs["foo-2.csv"] == "foo-2" and slugs["foo.csv"] == "foo-3"
    for name, slug in slugs.items():  # every folder holds the batch of its own input
        assert Path(summary(out, slug)["batch"]["source"]).name == name and summary(out, slug)["batch"]["slug"] == slug
    assert (out / "index.html").is_file() and (out / "compare.html").is_file()  # the site's own pages, not folders
    assert slugs["index.html.csv"] == "index-html" and slugs["cmp.csv"] == "compare-html"
    index = (out / "index.html").read_text()
    assert all(f'href="{s}/report.html"' in index for s in slugs.values())


def test_slugs_are_stable_and_the_index_keeps_batches_not_named(colliding, tmp_path):
    data, out, _ = colliding
    p = scalekit_cli("report", str(data / "foo.csv"), "--out", str(out), *NB)
    assert "skipped  foo-3" in p.stdout  # the same input, the same folder (alone it would be 'foo')
    index = (out / "index.html").read_text()
    for slug in ("foo", "foo-2", "foo-3", "index-html", "compare-html"):
        assert f'href="{slug}/report.html"' in index, slug
    # a new input named like a batch already on the site never takes its folder
    new = small_batch(tmp_path, "Foo", seed=9)
    p = scalekit_cli("report", str(new), "--out", str(out), *NB)
    assert "rendered foo-4" in p.stdout and Path(summary(out, "foo")["batch"]["source"]).name == "Foo.csv"
    assert str(new) not in (out / "foo" / "summary.json").read_text()


def test_compare_is_rebuilt_from_disk_after_a_removal(colliding):
    data, out, _ = colliding
    shutil.rmtree(out / "foo-2")  # removed by hand
    p = scalekit_cli("report", str(data / "foo.csv"), "--out", str(out), *NB)
    assert p.returncode == 0
    index = (out / "index.html").read_text()
    assert 'href="foo-2/report.html"' not in index
    nb = nbformat.read(out / "compare.ipynb", as_version=4)
    injected = "".join(c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "foo-2" not in injected and "foo-3" in injected and "compare-html" in injected
    listed = json.loads((out / "site.json").read_text())["inputs"]
    assert "foo-2" not in listed.values()


def test_corrupt_summary_stale_failed_page_and_a_users_scratch(tmp_path):
    data = tmp_path / "data"
    batch = small_batch(data, "b")
    out = tmp_path / "site"
    (out / ".scratch").mkdir(parents=True)
    (out / ".scratch" / "mine.txt").write_text("keep me")  # the user's own folder of that name
    scalekit_cli("report", str(batch), "--out", str(out), *NB)
    assert (out / ".scratch" / "mine.txt").read_text() == "keep me"
    assert not list(out.glob(".scalekit-scratch-*"))  # ours is gone
    (out / "b" / "summary.json").write_text('{"batch": ')  # corrupt cache: rendered again, no --force
    p = scalekit_cli("report", str(batch), "--out", str(out), *NB)
    assert "rendered b" in p.stdout and summary(out, "b")["batch"]["slug"] == "b"
    good = batch.read_text()
    batch.write_text(good.replace("params", "width"))
    p = scalekit_cli("report", str(batch), "--out", str(out), *NB, check=False)
    assert p.returncode == 1 and (out / "b" / "failed.html").is_file()
    batch.write_text(good)  # recovered: the inputs are the last good render's again
    p = scalekit_cli("report", str(batch), "--out", str(out), *NB)
    assert "skipped  b" in p.stdout
    assert not (out / "b" / "failed.html").exists() and not (out / "b" / "failed.ipynb").exists()
    assert 'class="status-failed"' not in (out / "index.html").read_text()


def test_a_second_run_into_the_same_folder_waits_then_fails_clearly(tmp_path):
    batch = small_batch(tmp_path / "data", "l")
    out = tmp_path / "site"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from scalekit.render.site import site_lock\n"
                               "with site_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)", str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t = time.monotonic()
        with pytest.raises(Exception, match=r"another scalekit run is writing into .*pid \d+"):
            render_site([batch], out=out, progress=False, lock_wait=1.0, parameters={"n_boot": 5})
        assert 0.9 < time.monotonic() - t < 30
        assert not (out / "l").exists()  # nothing written while the other run holds the folder
    finally:
        holder.kill()
        holder.wait()
    with site_lock(out, wait=5):  # the lock dies with its holder: no stale lock file blocks the next run
        pass


def test_out_that_is_a_file_or_read_only_is_one_line(tmp_path):
    batch = small_batch(tmp_path / "data", "r")
    f = tmp_path / "file"
    f.write_text("x")
    p = scalekit_cli("report", str(batch), "--out", str(f), check=False)
    assert p.returncode == 2 and "is a file, not a folder" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    ro = tmp_path / "ro"
    ro.mkdir()
    with read_only(ro):
        p = scalekit_cli("report", str(batch), "--out", str(ro), check=False)
    assert p.returncode == 2 and "cannot write into" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert f"cannot write into {ro}" in p.stderr and "pass another --out" in p.stderr  # which folder, and what to do


@contextlib.contextmanager
def read_only(path: Path):
    """A folder nobody can write: a read-only tmpfs as root (who ignores permission bits), else mode 0555."""
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)]).returncode != 0:
            pytest.skip("running as root without permission to mount a read-only tmpfs")
        try:
            yield
        finally:
            subprocess.run(["umount", str(path)], check=True)
    else:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)


def test_full_disk_is_one_line_and_the_next_run_recovers(tmp_path):
    """A real full disk: the site on a 256 KB tmpfs (a report is about 1 MB), then the same tmpfs made larger."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; without it a full disk cannot be made honestly here")
    batch = small_batch(tmp_path / "data", "full")
    out = tmp_path / "site"
    out.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(out)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        p = scalekit_cli("report", str(batch), "--out", str(out), *NB, check=False)
        assert p.returncode == 2 and "No space left on device" in p.stderr and "Traceback" not in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not (out / "full" / "report.html").exists() and not list(out.glob(".scalekit-scratch-*"))
        subprocess.run(["mount", "-o", "remount,size=64m", str(out)], check=True)
        p = scalekit_cli("report", str(batch), "--out", str(out), *NB)  # no --force
        assert "rendered full" in p.stdout and (out / "full" / "report.html").is_file()
    finally:
        subprocess.run(["umount", "-l", str(out)])


def test_reports_have_figures_whatever_the_callers_backend(tmp_path):
    batch = small_batch(tmp_path / "data", "agg")
    out = tmp_path / "site"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    p = subprocess.run([sys.executable, "-m", "scalekit", "report", str(batch), "--out", str(out), *NB],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert count_images(out / "agg" / "report.ipynb") >= 5
    assert (out / "agg" / "report.html").read_text().count("data:image/png;base64") >= 5
    # papermill's own CLI starts a kernel that inherits MPLBACKEND=Agg: figures still appear
    nb = tmp_path / "pm.ipynb"
    p = subprocess.run([sys.executable, "-m", "papermill", str(report_notebook()), str(nb), "-p", "batch_path", str(batch), "-p", "n_boot", "10",
                        "-p", "n_boot_optimal", "5"], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert count_images(nb) >= 5


def test_unknown_parameters_are_refused_before_a_kernel_starts(tmp_path):
    batch = small_batch(tmp_path / "data", "u")
    job = Job("u", "u", {"batch_path": str(batch), "deltaa": 0.1}, (str(batch),), "u")
    t = time.monotonic()
    r = render_batch(job, tmp_path / "site")
    assert r.status == "failed" and "unknown parameter(s) ['deltaa']" in r.message
    assert time.monotonic() - t < 10  # refused up front, not after a render


def test_bad_option_through_papermill_is_named(tmp_path):
    p = subprocess.run([sys.executable, "-m", "papermill", str(report_notebook()), str(tmp_path / "o.ipynb"), "-p", "delta", "-1"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode != 0 and "option 'delta': got -1; allowed: a finite number > 0" in p.stderr + p.stdout


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.split()
    kids: dict[int, list[int]] = {}
    for c, pp in zip(out[::2], out[1::2]):
        kids.setdefault(int(pp), []).append(int(c))
    found, todo = set(), [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            found.add(k)
            todo.append(k)
    return found


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_kill_9_with_two_jobs_leaves_no_workers_or_kernels(tmp_path):
    data = tmp_path / "data"
    small_batch(data, "k1")
    small_batch(data, "k2", seed=1)
    out = tmp_path / "site"
    proc = subprocess.Popen([sys.executable, "-m", "scalekit", "report", str(data), "--out", str(out), "--jobs", "2",
                             "--n-boot", "4000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    kernels: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        below = _descendants(proc.pid)
        kernels = {p for p in below if "ipykernel" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")} \
            if below else set()
        if len(kernels) >= 2:
            break
        time.sleep(0.1)
    assert len(kernels) >= 2 and proc.poll() is None, "two kernels never ran at once"
    family = _descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)  # the parent only, as a user's kill -9 does
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in family):
        time.sleep(0.2)
    left = [p for p in family if _alive(p)]
    for p in left:  # leave the machine clean whatever the outcome
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    assert left == [], f"orphans still running: {left}"


def test_kernels_started_at_once_all_start(tmp_path):
    """Two processes starting kernels at the same moment, twice: every kernel answers."""
    code = ("import sys; from pathlib import Path; from scalekit.render.kernels import start_kernel\n"
            "from jupyter_core.utils import run_sync\n"
            "km = start_kernel(Path(sys.argv[1])); print('ok', flush=True); run_sync(km.shutdown_kernel)(now=True)\n")
    for _ in range(2):
        ps = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for _ in range(2)]
        outs = [p.communicate(timeout=180) for p in ps]
        assert all(p.returncode == 0 and o.strip() == "ok" for p, (o, _) in zip(ps, outs)), outs
