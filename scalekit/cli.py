"""The ``scalekit`` command line."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from . import __version__
from .exceptions import ScalekitError
from .options import FIELDS, THRESHOLD_FIELDS, parse_assignment, split_assignments

EPILOG = """examples:
  scalekit report --out site                       render the example batches
  scalekit report runs/ --out site --jobs 2        every data file in runs/
  scalekit report runs.csv --set n_boot=200 --set targets=[0.01,0.05]
  scalekit fit runs.csv --metric eval_loss --json  the law, no notebook

options settable with --set KEY=VALUE:
""" + "\n".join(f"  {k:<22} {rule.help} (default {default!r})" for k, (default, rule) in FIELDS.items()) + """
  thresholds.NAME        a limitation-check threshold: """ + ", ".join(THRESHOLD_FIELDS) + """
  (any other KEY is a batch-config key: name, compute, baseline, columns, metrics, ignore, ...)
"""


def _assignments(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    pairs = [parse_assignment(s) for s in (args.set or [])]
    for flag in ("n_boot", "seed", "form", "x", "loss", "delta", "points"):
        value = getattr(args, flag, None)
        if value is not None:
            pairs.append((flag, value))
    return split_assignments(pairs)


def _fit(args: argparse.Namespace) -> int:
    from .data.load import load_batch
    from .laws.fit import fit_law

    opts, cfg = _assignments(args)
    if args.metric:
        cfg["metrics"] = [args.metric]
    batch = load_batch(args.file, **cfg)
    res = fit_law(batch, metric=args.metric, **opts)
    if args.json:
        print(json.dumps(res.summary(), indent=2, allow_nan=False))
    else:
        print(f"batch {batch.name}: {batch.runs} runs, {batch.rows} rows; C counted as {batch.compute}")
        for n in batch.notes:
            print(f"note: {n}")
        for e in batch.excluded:
            print(f"excluded: {e.run}: {e.reason}")
        print(res.report())
    return 0


def _report(args: argparse.Namespace) -> int:
    from .options import resolve_options
    from .render.site import render_site

    opts, cfg = _assignments(args)
    resolve_options(opts, source="command line")  # a bad option fails here, before any kernel starts
    params: dict[str, Any] = dict(opts)
    if cfg:
        params["config_json"] = json.dumps(cfg)
    site = render_site(args.batches, out=args.out, jobs=args.jobs, force=args.force, executor=args.executor,
                       scheduler=args.scheduler, progress=not args.quiet, parameters=params)
    print(f"site: {site.index}")
    for r in site.results:
        print(f"  {r.status:8} {r.slug}: {r.message}")
    return 0 if site.ok else 1


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="set any run option or batch-config key (repeatable); the value is read as YAML")
    p.add_argument("--n-boot", dest="n_boot", type=int, default=None, help="bootstrap resamples per law (default 1000; 0: none)")
    p.add_argument("--seed", type=int, default=None, help="seed of every bootstrap (default 0)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scalekit", description="Scaling-law reports for families of trained models.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"scalekit {__version__}")
    sub = p.add_subparsers(dest="command")

    f = sub.add_parser("fit", help="fit a law to one batch file and print it (no notebook)", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("file", help="CSV, Parquet or JSON Lines file (a YAML config beside it is read)")
    f.add_argument("--metric", help="metric column (default: the batch's first metric)")
    f.add_argument("--json", action="store_true", help="print summary() as JSON")
    f.add_argument("--form", default=None, choices=list(FIELDS["form"][1].choices), help="law form (default auto)")
    f.add_argument("--x", default=None, choices=["N", "D", "C"], help="variable of a one-variable form (default N)")
    f.add_argument("--loss", default=None, choices=["huber", "squared"], help="loss on log residuals (default huber)")
    f.add_argument("--delta", type=float, default=None, help="Huber threshold on log residuals (default 1e-3)")
    f.add_argument("--points", default=None, choices=["auto", "final", "all"], help="rows fitted (default auto)")
    _common(f)
    f.set_defaults(func=_fit)

    r = sub.add_parser("report", help="render the HTML report site", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("batches", nargs="*", help="data files or folders of them (default: the example batches)")
    r.add_argument("--out", default="site", help="output folder (default: ./site)")
    r.add_argument("--jobs", type=int, default=None, help="batches rendered in parallel (default: all cores)")
    r.add_argument("--force", action="store_true", help="re-render batches whose inputs are unchanged")
    r.add_argument("--executor", default="local", choices=["local", "dask"], help="where notebooks run (default local)")
    r.add_argument("--scheduler", help="dask scheduler address (with --executor dask)")
    r.add_argument("--quiet", action="store_true", help="no progress display")
    _common(r)
    r.set_defaults(func=_report)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except ScalekitError as exc:  # a user mistake: one line
        print(f"scalekit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scalekit: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: the traceback, and where to report it
        traceback.print_exc()
        print("scalekit: internal error (a bug in scalekit, not in your data); please report it with the traceback above",
              file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
