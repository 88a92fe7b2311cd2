"""Write the example batches' summary.json, or compare two sets of them field by field.

Used to show that a restructuring changes no number: write the summaries with the old checkout and
the new one, then compare. Keys the new code adds (new sections, schema_version) are listed apart.

    PYTHONPATH=OLD_CHECKOUT python benchmarks/example_summaries.py write /tmp/old
    python benchmarks/example_summaries.py write /tmp/new
    python benchmarks/example_summaries.py compare /tmp/old /tmp/new [--rtol 1e-6]

``--rtol`` counts numbers equal to that relative tolerance as unchanged (default: exact).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import scalekit
from scalekit.examples import example_source


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for ex in ("behavior", "perception"):
        frame, cfg = example_source(ex)
        batch = scalekit.load_batch(frame, **cfg)
        for v in batch.versions or [""]:
            b = batch.select_version(v) if v else batch
            (out / f"{b.slug}.json").write_text(json.dumps(scalekit.analyze(b, n_boot=1000, seed=0).summary(), indent=1,
                                                           sort_keys=True))
            print("wrote", out / f"{b.slug}.json")


def _walk(a: Any, b: Any, path: str, diffs: list[str], added: list[str], rtol: float = 0.0) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        added += [f"{path}/{k}" for k in b if k not in a]
        diffs += [f"{path}/{k}: removed" for k in a if k not in b]
        for k in a:
            if k in b:
                _walk(a[k], b[k], f"{path}/{k}", diffs, added, rtol)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, f"{path}[{i}]", diffs, added, rtol)
    elif _number(a) and _number(b) and abs(a - b) <= rtol * max(abs(a), abs(b)):
        return
    elif a != b:
        diffs.append(f"{path}: {str(a)[:80]} -> {str(b)[:80]}")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compare(old: Path, new: Path, rtol: float = 0.0, show: int = 20) -> int:
    bad = 0
    for f in sorted(old.glob("*.json")):
        diffs: list[str] = []
        added: list[str] = []
        _walk(json.loads(f.read_text()), json.loads((new / f.name).read_text()), "", diffs, added, rtol)
        print(f"{f.stem}: {len(diffs)} changed field(s); added: {', '.join(added) or 'none'}")
        for d in diffs[:show]:
            print("   ", d)
        bad += len(diffs)
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("out", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    c.add_argument("--rtol", type=float, default=0.0, help="relative tolerance for numbers (default: exact)")
    c.add_argument("--show", type=int, default=20, help="changed fields listed per file")
    args = ap.parse_args()
    if args.cmd == "write":
        write(args.out)
        return 0
    return compare(args.old, args.new, args.rtol, args.show)


if __name__ == "__main__":
    raise SystemExit(main())
