"""The ``scalekit`` command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .exceptions import ConfigError, ScalekitError
from .options import FIELDS, FIT_FORM, THRESHOLD_FIELDS, parse_assignment, split_assignments

EPILOG = """examples:
  scalekit report --out site                       render the example batches
  scalekit report runs/ --out site --jobs 2        every data file in runs/
  scalekit report runs.csv --set n_boot=200 --set targets=[0.01,0.05]
  scalekit fit runs.csv --metric eval_loss --json  the law, no notebook
  scalekit fit runs.csv --config ~/cfg/runs.yaml --ignore lr   a config from anywhere; read-only data stays put
  scalekit report sqlite:///mlruns/mlflow.db --experiment ladder --out site   runs from an MLflow store
  scalekit report tb_logs/ --set 'source={run_pattern: "{params}-{tokens}"}'  a TensorBoard folder

options settable with --set KEY=VALUE:
""" + "\n".join(f"  {k:<22} {rule.help} (default {default!r})" for k, (default, rule) in FIELDS.items()) + """
  thresholds.NAME        a limitation-check threshold: """ + ", ".join(THRESHOLD_FIELDS) + """
  (any other KEY is a batch-config key: name, compute, baseline, columns, metrics, ignore, ...)
"""


def _assignments(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run options and batch-config keys from --config FILE, then --set, --ignore, --metric, --experiment and the flags."""
    cfg: dict[str, Any] = {}
    if args.config:
        from .data.config import read_config_mapping

        cfg = _anchored(read_config_mapping(Path(args.config)), Path(args.config).absolute().parent)
    pairs = [parse_assignment(s) for s in (args.set or [])]
    for flag in ("n_boot", "seed", "form", "x", "loss", "delta", "points"):
        value = getattr(args, flag, None)
        if value is not None:
            pairs.append((flag, value))
    file_opts, cfg = split_assignments(list(cfg.items()))
    opts, set_cfg = split_assignments(pairs)
    cfg.update(_anchored(set_cfg, Path.cwd()))
    if args.ignore:
        cfg["ignore"] = [*(cfg.get("ignore") or []), *args.ignore]
    if args.metric:  # one metric: its declaration (direction, bound) if the config has one, else the name alone
        declared = [m for m in (cfg.get("metrics") or []) if isinstance(m, dict) and m.get("name") == args.metric]
        cfg["metrics"] = declared or [args.metric]
    if args.experiment:
        cfg["source"] = {**(cfg.get("source") or {}), "experiment": ",".join(args.experiment)}
    return {**file_opts, **opts}, cfg


class _ReaderGone(Exception):
    """Standard output's reader closed the pipe (``scalekit fit x.csv | head -1``)."""


def _print(*lines: str) -> None:
    """Lines on standard output; a reader that went away is no error of ours (nor of the user's)."""
    try:
        print(*lines, sep="\n", flush=True)
    except BrokenPipeError:
        raise _ReaderGone from None


def _anchored(cfg: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``cfg`` with a relative file path (``source: {runs: table.csv}``) made absolute against ``folder`` (the
    config file's, or the current one for --set): the report's notebook runs in another folder."""
    src = cfg.get("source")
    if isinstance(src, dict) and isinstance(src.get("runs"), str):
        runs = Path(src["runs"]).expanduser()
        return {**cfg, "source": {**src, "runs": str(runs if runs.is_absolute() else folder / runs)}}
    return cfg


def _bootstrap_progress(after: float = 2.0, every: float = 2.0) -> Callable[[int, int], None]:
    """A progress line on stderr for fits that take long (a million rows): silent for the first ``after`` seconds."""
    t0 = time.monotonic()
    last = [t0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - t0 < after or (now - last[0] < every and done < total):
            return
        last[0] = now
        rate = done / (now - t0)
        eta = f", about {(total - done) / rate:.0f} s left" if done < total and rate > 0 else ""
        print(f"scalekit: bootstrap {done}/{total} resamples ({now - t0:.0f} s{eta})", file=sys.stderr, flush=True)

    return show


def _fit(args: argparse.Namespace) -> int:
    from .data.load import load_batch
    from .laws.fit import fit_law

    opts, cfg = _assignments(args)
    if "source" in cfg and "experiment" in cfg["source"] and "," in str(cfg["source"]["experiment"]):
        raise ConfigError("fit reads one batch: give one --experiment", key="experiment")
    batch = load_batch(args.file, **cfg)
    res = fit_law(batch, metric=args.metric, progress=_bootstrap_progress(), **opts)
    if args.json:
        _print(json.dumps(res.summary(), indent=2, allow_nan=False))
    else:
        counted = f"C counted as {batch.compute}" if batch.has_data_size else "no data size, so no compute"
        _print(f"batch {batch.name}: {batch.runs} runs, {batch.rows} rows; {counted}",
               *(f"note: {n}" for n in batch.notes), *(f"excluded: {e.run}: {e.reason}" for e in batch.excluded),
               res.report())
    return 0


def _plan(args: argparse.Namespace) -> int:
    from .analyses.plan import Decision, plan_runs
    from .analyses.profiles import flops_factor
    from .data.load import load_batch
    from .data.shapes import Shape
    from .laws.fit import fit_law

    opts, cfg = _assignments(args)
    batch = load_batch(args.file, **cfg)
    fit = fit_law(batch, metric=args.metric, progress=_bootstrap_progress(), **opts)
    N = D = None
    if args.decision == "value":
        if not args.at:
            raise ConfigError("decision value needs the point: --at N,D (e.g. --at 7e9,2e12)", source="--at")
        try:
            N, D = (float(v) for v in args.at.split(","))
        except ValueError:
            raise ConfigError(f"got {args.at!r}; expected two numbers N,D (e.g. 7e9,2e12)", source="--at") from None
    if args.decision == "param" and not args.param:
        raise ConfigError("decision param needs --param NAME (e.g. alpha)", source="--param")
    budget = args.budget if args.budget is not None else 10.0 * float(batch.frame["C"].max())
    p = plan_runs(fit, Decision(args.decision, budget=budget, N=N, D=D, name=args.param), args.allowance,
                  k=flops_factor(batch))
    template = Shape(layers=1, d_model=128, heads=1, vocab=args.vocab, glu=args.glu)
    if args.json:
        _print(json.dumps(p.summary(template, args.convention), indent=2, allow_nan=False))
    else:
        _print(f"batch {batch.name}: {batch.runs} runs; law {fit.form.name}", p.report())
    return 0


def _report(args: argparse.Namespace) -> int:
    from .options import resolve_options
    from .render.site import render_site

    if not args.out.strip():
        raise ConfigError("got an empty folder name; pass the folder the site goes into, e.g. --out site", source="--out")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"got {args.jobs}; allowed: a whole number >= 1 (batches rendered at once)", source="--jobs")
    opts, cfg = _assignments(args)
    resolve_options(opts, source="command line")  # a bad option fails here, before any kernel starts
    params: dict[str, Any] = dict(opts)
    if cfg:
        params["config_json"] = json.dumps(cfg)
    site = render_site(args.batches, out=args.out, jobs=args.jobs, force=args.force, executor=args.executor,
                       scheduler=args.scheduler, progress=not args.quiet, parameters=params)
    _print(f"site: {site.index}", *(f"  {r.status:8} {r.slug}: {r.message}" for r in site.results))
    return 0 if site.ok else 1


def _default(name: str) -> str:
    """An option's default as --help states it: read from the one options schema, so help cannot drift from it."""
    return f"{FIELDS[name][0]:g}" if isinstance(FIELDS[name][0], float) else str(FIELDS[name][0])


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="a batch config (YAML) from anywhere; its keys apply to every batch named")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="set any run option or batch-config key (repeatable); the value is read as YAML")
    p.add_argument("--ignore", action="append", metavar="COL", help="a column that is not a metric (repeatable)")
    p.add_argument("--experiment", action="append", metavar="NAME",
                   help="the MLflow experiment(s) to read from a tracking store (repeatable; default: all)")
    p.add_argument("--n-boot", dest="n_boot", type=int, default=None,
                   help=f"bootstrap resamples per law (default {_default('n_boot')}; 0: none)")
    p.add_argument("--seed", type=int, default=None, help=f"seed of every bootstrap (default {_default('seed')})")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scalekit", description="Scaling-law reports for families of trained models.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"scalekit {__version__}")
    sub = p.add_subparsers(dest="command")

    f = sub.add_parser("fit", help="fit a law to one batch file and print it (no notebook)", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("file", help="CSV, Parquet or JSON Lines file (a YAML config beside it is read), or a tracker source")
    f.add_argument("--metric", help="metric column (default: the batch's first metric)")
    f.add_argument("--json", action="store_true", help="print summary() as JSON")
    f.add_argument("--form", default=None, choices=list(FIELDS["form"][1].choices),
                   help=f"law form (default {FIT_FORM}, the additive law L(N, D); auto: the form that best predicts "
                        f"held-out larger runs, as reports use)")
    f.add_argument("--x", default=None, choices=list(FIELDS["x"][1].choices),
                   help=f"variable of a one-variable form (default {_default('x')})")
    f.add_argument("--loss", default=None, choices=list(FIELDS["loss"][1].choices),
                   help=f"loss on log residuals (default {_default('loss')})")
    f.add_argument("--delta", type=float, default=None, help=f"Huber threshold on log residuals (default {_default('delta')})")
    f.add_argument("--points", default=None, choices=list(FIELDS["points"][1].choices),
                   help=f"rows fitted (default {_default('points')})")
    _common(f)
    f.set_defaults(func=_fit)

    pl = sub.add_parser("plan", help="rank candidate runs by how much they pin down a decision per FLOP", epilog=EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    pl.add_argument("file", help="CSV, Parquet or JSON Lines file (a YAML config beside it is read), or a tracker source")
    pl.add_argument("--allowance", type=float, required=True, metavar="FLOPS", help="total FLOPs the new runs may use")
    pl.add_argument("--decision", default="optimum", choices=["optimum", "value", "param"],
                    help="what the runs must pin down: the compute-optimal N at --budget (default), the metric --at N,D, "
                         "or a law parameter --param NAME")
    pl.add_argument("--budget", type=float, default=None, help="compute budget of the optimum (default 10x the largest run's)")
    pl.add_argument("--at", default=None, metavar="N,D", help="the point of a value decision")
    pl.add_argument("--param", default=None, metavar="NAME", help="the parameter of a param decision (e.g. alpha)")
    pl.add_argument("--metric", help="metric column (default: the batch's first metric)")
    pl.add_argument("--form", default=None, choices=list(FIELDS["form"][1].choices), help=f"law form (default {FIT_FORM})")
    pl.add_argument("--vocab", type=int, default=50304, help="vocabulary of the shapes suggested (default 50304)")
    pl.add_argument("--glu", action="store_true", help="suggest shapes with a gated MLP (SwiGLU)")
    pl.add_argument("--convention", default="porian", choices=["kaplan", "porian", "hoffmann"],
                    help="how the batch counts N, for the shapes suggested (default porian: non-embedding plus the head)")
    pl.add_argument("--json", action="store_true", help="print the plan as JSON")
    _common(pl)
    pl.set_defaults(func=_plan)

    r = sub.add_parser("report", help="render the HTML report site", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("batches", nargs="*", help="data files or folders of them (default: the example batches)")
    r.add_argument("--out", default="site", help="output folder (default: ./site)")
    r.add_argument("--jobs", type=int, default=None, help="batches rendered in parallel (default: all cores)")
    r.add_argument("--force", action="store_true", help="re-render batches whose inputs are unchanged")
    r.add_argument("--executor", default="local", choices=["local", "dask"], help="where notebooks run (default local)")
    r.add_argument("--scheduler", help="dask scheduler address (with --executor dask)")
    r.add_argument("--quiet", action="store_true", help="no progress display")
    r.add_argument("--metric", help="report only this metric column (and read it as the batch's metric)")
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
    except _ReaderGone:  # nothing left to say to it, nor at exit, when Python flushes stdout again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
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
