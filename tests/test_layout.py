"""The house: stages import only the stages below them, no module imports another's private names,
and `import scalekit` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import scalekit

PKG = Path(scalekit.__file__).parent
# Stage of each part of the package: a module may import only from its own stage or lower ones.
STAGE = {"exceptions": 0, "jsonsafe": 0, "iorw": 0, "display": 0, "expr": 0, "options": 1, "data": 2, "laws": 3, "examples": 4,
         "analyses": 4, "checks": 5, "pipeline": 6, "report": 7, "render": 8, "cli": 9, "__main__": 10, "__init__": 1}


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) for every scalekit import in the file."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    pkg = list(rel.parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("scalekit"):
                names = [a.name for a in node.names]
                if node.module is None:  # from . import display (a module) or from .. import __version__ (a name)
                    for n in names:
                        sub = PKG.parent.joinpath(*f"{mod}.{n}".split("."))
                        is_module = sub.with_suffix(".py").is_file() or sub.is_dir()
                        out.append((f"{mod}.{n}", [], node.lineno) if is_module else (mod, [n], node.lineno))
                else:
                    out.append((mod, names, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("scalekit")]
    return out


def test_imports_run_only_downward_and_touch_no_private_names():
    problems = []
    for path in sorted(PKG.rglob("*.py")):
        me = ".".join(path.relative_to(PKG.parent).with_suffix("").parts)
        for mod, names, line in _imports(path):
            if _part(mod) != _part(me) and STAGE[_part(mod)] > STAGE[_part(me)]:
                problems.append(f"{me}:{line} imports {mod} from a higher stage")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                problems.append(f"{me}:{line} imports private {private} from {mod}")
    assert not problems, "\n".join(problems)


def test_every_part_is_staged():
    parts = {p.stem if p.parent == PKG else p.parent.name for p in PKG.rglob("*.py") if p.parent == PKG or p.parent.parent == PKG}
    assert parts <= set(STAGE), parts - set(STAGE)


def test_import_scalekit_is_light():
    code = ("import sys, scalekit; heavy = [m for m in ('matplotlib', 'papermill', 'scipy.stats', 'pandas', 'nbconvert') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
