"""The wheel: built from the checkout, installed into a fresh virtual environment, run from another folder."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv with the wheel installed (dependencies come from the environment running the tests)."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheels = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True, text=True)
    (whl,) = wheels.glob("scalekit-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    for f in ("scalekit/notebooks/batch_report.ipynb", "scalekit/notebooks/compare_batches.ipynb",
              "scalekit/templates/index.html.j2", "scalekit/templates/scalekit_report/index.html.j2",
              "scalekit/templates/scalekit_report/conf.json", "scalekit/py.typed", "scalekit/pipeline/summary.schema.json"):
        assert f in names, f
    env = tmp / "venv"
    venv.create(env, system_site_packages=False, with_pip=True)
    py = env / "bin" / "python"
    _see_running_environment(py)
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(whl)], check=True, capture_output=True, text=True,
                   env=_env())
    return env


def _site_dirs() -> list[str]:
    """Where the interpreter running the tests finds its packages: a venv's, pyenv's or the system's, whichever runs."""
    dirs = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    out: list[str] = []
    for d in dirs:
        if Path(d).is_dir() and d not in out and Path(d).resolve() != ROOT.resolve():
            out.append(d)
    return out


def _see_running_environment(py: Path) -> None:
    """The fresh venv imports the wheel's dependencies from the environment running the tests, not from the base
    interpreter (``system_site_packages`` would see the base's, which in a venv lack pandas and the rest).

    A .pth line only appends its folder to sys.path: the folder's own .pth files (an editable scalekit's finder among
    them) are not run, and the venv's site-packages, holding the wheel, comes first.
    """
    target = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            check=True, capture_output=True, text=True, env=_env()).stdout.strip()
    (Path(target) / "_scalekit_test_deps.pth").write_text("\n".join(_site_dirs()) + "\n")


def _env() -> dict[str, str]:
    """The running environment's Jupyter data files (nbconvert's templates live under its prefix's share/jupyter,
    which the fresh venv, holding only the wheel, does not have); no PYTHONPATH, which would put a checkout's scalekit
    before the wheel's."""
    share = [str(Path(p) / "share" / "jupyter") for p in dict.fromkeys((sys.prefix, sys.base_prefix))]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "JUPYTER_PATH": os.pathsep.join([*share, os.environ.get("JUPYTER_PATH", "")]).strip(os.pathsep)}


def test_fresh_venv_sees_the_running_environment_not_the_base_interpreter(installed, tmp_path):
    code = "import json, pandas, papermill, scalekit; print(json.dumps([pandas.__file__, scalekit.__file__]))"
    out = subprocess.run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path, capture_output=True, text=True, env=_env())
    assert out.returncode == 0, out.stderr
    pandas_file, scalekit_file = json.loads(out.stdout)
    assert any(pandas_file.startswith(d) for d in _site_dirs()), pandas_file
    assert scalekit_file.startswith(str(installed)), scalekit_file


def test_installed_package_finds_its_notebooks_and_templates_inside_itself(installed, tmp_path):
    code = ("import scalekit, json; from scalekit.render.resources import notebooks_dir, templates_dir; "
            "print(json.dumps([scalekit.__file__, str(notebooks_dir()), str(templates_dir())]))")
    out = subprocess.run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True,
                         env=_env())
    for p in json.loads(out.stdout):
        assert p.startswith(str(installed)), p


def test_installed_package_renders_the_example_site_from_another_folder(installed, tmp_path):
    p = subprocess.run([str(installed / "bin" / "scalekit"), "report", "--out", "site", "--n-boot", "50", "--jobs", "2", "--quiet"], env=_env(),
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    site = tmp_path / "site"
    assert (site / "index.html").is_file() and (site / "compare.html").is_file()
    for slug in ("behavior", "perception-v1", "perception-v2"):
        assert (site / slug / "report.html").stat().st_size > 100_000, slug
        assert json.loads((site / slug / "summary.json").read_text())["schema_version"] == 1


def test_a_missing_notebook_is_a_named_error_not_a_traceback(installed, tmp_path):
    nb = next((installed / "lib").glob("python*/site-packages/scalekit/notebooks/batch_report.ipynb"))
    nb.rename(nb.with_suffix(".bak"))
    try:
        p = subprocess.run([str(installed / "bin" / "scalekit"), "report", "--out", "site", "--n-boot", "0"], cwd=tmp_path, env=_env(),
                           capture_output=True, text=True, timeout=300)
    finally:
        nb.with_suffix(".bak").rename(nb)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert "batch_report.ipynb is missing: looked for" in p.stderr and str(nb) in p.stderr
