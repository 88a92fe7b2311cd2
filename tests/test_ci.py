"""Set-up: README's two commands, what CI runs, and the system-package plan of .ci/install-system-deps.

The plan is tested against fake PATHs (fake chromium, npm, node, python3), so the machine this runs on does not
matter: the NodeSource case (node with its own npm, no chromium) must never ask apt for Debian's npm.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from .conftest import ROOT

SCRIPT = ROOT / ".ci" / "install-system-deps"
BASH = shutil.which("bash") or "/bin/bash"


def readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block is not None, "README.md must open with a bash block"
    return [line.split("   #")[0].strip() for line in block.group(1).splitlines()[:2]]


def test_ci_runs_exactly_the_readme_test_command():
    ci = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith(("#", "set ", "cd "))]
    assert ci == [readme_commands()[1]]


def test_readme_commands_need_no_python_alias_and_no_system_pip():
    for cmd in readme_commands():
        words = re.split(r"\s+|&&", cmd)
        assert "python" not in words, cmd  # stock Debian/Ubuntu have python3 only
        assert "python3 -m venv .venv" in cmd, cmd  # a project-local venv: no externally-managed refusal
        assert cmd.count("pip install") == cmd.count(".venv/bin/python -m pip install") == 1, cmd  # never the system's pip
    assert "pip install -q ." in readme_commands()[0]  # the main job runs from a non-editable install


def _fake_path(tmp_path: Path, *, chromium: bool, npm: bool, node: bool, ensurepip: bool = True) -> Path:
    """A folder with only fake commands, and a copy of the script beside its own node/ folder."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()

    def fake(name: str, code: int = 0) -> None:
        p = bin_ / name
        p.write_text(f"#!/bin/sh\nexit {code}\n")
        p.chmod(0o755)

    fake("python3", 0 if ensurepip else 1)
    if chromium:
        fake("chromium")
    if npm:
        fake("npm")
    if node:
        fake("node")
    ci = tmp_path / "repo" / ".ci"
    (ci / "node").mkdir(parents=True)
    shutil.copy(SCRIPT, ci / "install-system-deps")
    return bin_


def _plan(tmp_path: Path, *args: str, **kw: bool) -> subprocess.CompletedProcess[str]:
    bin_ = _fake_path(tmp_path, **kw)
    script = tmp_path / "repo" / ".ci" / "install-system-deps"
    return subprocess.run([BASH, str(script), "--dry-run", *args], env={"PATH": str(bin_)}, capture_output=True, text=True,
                          cwd=tmp_path)


def test_plan_nodesource_node_with_npm_and_no_chromium_uses_the_existing_npm(tmp_path):
    p = _plan(tmp_path, chromium=False, npm=True, node=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["would install chromium with apt", "would install axe-core with npm"]


def test_plan_without_any_node_takes_debians_npm(tmp_path):
    p = _plan(tmp_path, chromium=True, npm=False, node=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["would install npm with apt", "would install axe-core with npm"]


def test_plan_node_without_npm_refuses_in_one_line_rather_than_fight_that_node(tmp_path):
    p = _plan(tmp_path, chromium=True, npm=False, node=True)
    assert p.returncode == 1 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "npm" in p.stderr and "axe-core" in p.stderr


def test_plan_with_everything_present_installs_nothing(tmp_path):
    bin_ = _fake_path(tmp_path, chromium=True, npm=True, node=True)
    axe = tmp_path / "repo" / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"
    axe.parent.mkdir(parents=True)
    axe.write_text("//")
    p = subprocess.run([BASH, str(tmp_path / "repo" / ".ci" / "install-system-deps"), "--dry-run"], env={"PATH": str(bin_)},
                       capture_output=True, text=True)
    assert (p.returncode, p.stdout) == (0, "nothing to install\n"), p.stderr


def test_plan_python_without_ensurepip_takes_python3_venv_and_can_be_asked_alone(tmp_path):
    p = _plan(tmp_path, "venv", chromium=False, npm=False, node=False, ensurepip=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["would install python3-venv with apt"]


def test_plan_rejects_an_unknown_argument_in_one_line(tmp_path):
    p = _plan(tmp_path, "firefox", chromium=True, npm=True, node=True)
    assert p.returncode == 2 and "firefox" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("chromium") is None, reason="checks the machine after .ci/install-system-deps ran")
def test_after_install_the_real_machine_needs_nothing_more():
    """Idempotent: once the script has run (CI runs it first), its plan on this machine is empty."""
    p = subprocess.run([BASH, str(SCRIPT), "--dry-run"], capture_output=True, text=True)
    assert (p.returncode, p.stdout) == (0, "nothing to install\n"), p.stdout + p.stderr


def test_one_version_number_read_from_the_package_metadata():
    import importlib.metadata

    import scalekit

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert scalekit.__version__ == importlib.metadata.version("scalekit") == pyproject
    assert not re.search(r"__version__\s*=\s*['\"]", (ROOT / "scalekit" / "__init__.py").read_text())
