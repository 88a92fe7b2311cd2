"""The ``scalekit`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import __version__
from .exceptions import ScalekitError


def _fit(args: argparse.Namespace) -> int:
    from .batch import load_batch
    from .fit import fit_law

    cfg = {}
    if args.metric:
        cfg["metrics"] = [args.metric]
    batch = load_batch(args.file, **cfg)
    res = fit_law(batch, metric=args.metric, form=args.form, x=args.x, n_boot=args.n_boot, seed=args.seed,
                  loss=args.loss, delta=args.delta, points=args.points)
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
    from .render import render_site

    params = {"n_boot": args.n_boot, "seed": args.seed}
    site = render_site(args.batches, out=args.out, jobs=args.jobs, force=args.force, executor=args.executor,
                       scheduler=args.scheduler, progress=not args.quiet, parameters=params)
    print(f"site: {site.index}")
    for r in site.results:
        print(f"  {r.status:8} {r.slug}: {r.message}")
    return 0 if site.ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scalekit", description="Scaling-law reports for families of trained models.")
    p.add_argument("--version", action="version", version=f"scalekit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("fit", help="fit a law to one batch file and print it (no notebook)")
    f.add_argument("file", help="CSV, Parquet or JSON Lines file (a YAML config beside it is read)")
    f.add_argument("--metric", help="metric column (default: the batch's first metric)")
    f.add_argument("--json", action="store_true", help="print summary() as JSON")
    f.add_argument("--form", default="two_var", choices=["two_var", "saturating", "power"])
    f.add_argument("--x", default="N", choices=["N", "D", "C"], help="variable of a one-variable form")
    f.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (0: none)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--loss", default="huber", choices=["huber", "squared"])
    f.add_argument("--delta", type=float, default=1e-3, help="Huber threshold on log residuals")
    f.add_argument("--points", default="auto", choices=["auto", "final", "all"])
    f.set_defaults(func=_fit)

    r = sub.add_parser("report", help="render the HTML report site")
    r.add_argument("batches", nargs="*", help="data files or folders of them (default: the example batches)")
    r.add_argument("--out", default="site", help="output folder (default: ./site)")
    r.add_argument("--jobs", type=int, default=None, help="batches rendered in parallel (default: all cores)")
    r.add_argument("--force", action="store_true", help="re-render batches whose inputs are unchanged")
    r.add_argument("--executor", default="local", choices=["local", "dask"])
    r.add_argument("--scheduler", help="dask scheduler address (with --executor dask)")
    r.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples per law (default 1000)")
    r.add_argument("--seed", type=int, default=0, help="seed of every bootstrap")
    r.add_argument("--quiet", action="store_true", help="no progress display")
    r.set_defaults(func=_report)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScalekitError as exc:
        print(f"scalekit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
