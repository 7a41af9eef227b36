"""`evoprune experiment`: run a spec's variants × seeds into a folder (spread over workers), or redraw its report."""
from __future__ import annotations

import sys
from dataclasses import replace

from ..errors import ConfigError
from .common import add_import_arg, add_spread_args, check_model_file


def add_parser(sub) -> None:
    p = sub.add_parser("experiment", help="run an experiment spec (variants × seeds) or redraw its report")
    steps = p.add_subparsers(dest="step", required=True)
    r = steps.add_parser("run", help="run every variant × seed of SPEC into OUT, then write the report",
                         description="Runs every variant × seed of a TOML spec into OUT/runs/<variant>-seed<k>/, "
                                     "reusing finished runs and resuming interrupted ones, then writes summary.md "
                                     "(opening with the statistical verdict), summary.csv and the figures.")
    r.add_argument("spec", metavar="SPEC", help="the experiment's TOML file")
    r.add_argument("--out", required=True, help="the experiment's folder")
    add_spread_args(r)
    add_import_arg(r)
    r.set_defaults(run=run)
    rep = steps.add_parser("report", help="redraw an experiment's summary and figures from its files (no TensorFlow)")
    rep.add_argument("out", metavar="OUT", help="the experiment's folder")
    rep.set_defaults(run=report)


def run(args) -> int:
    from ..experiments import spec as specs

    spec, text = specs.load(args.spec)
    if "path" in spec.model:  # as `compare --model` does: refused before OUT is made
        check_model_file(spec.model["path"])
    return run_spec(args, spec, text)


def run_spec(args, spec, text: str | None) -> int:
    """Run `spec` into args.out with the spreading options of `add_spread_args` (shared with `compare`)."""
    from ..executors import EXECUTORS
    from ..executors.worker import cores
    from ..results.run_folder import check_out_path

    check_out_path(args.out)
    if args.executor not in ("process", "ray"):
        raise ConfigError(f"--executor spreads runs over 'process' or 'ray' workers, got {args.executor!r} "
                          f"(executors: {', '.join(EXECUTORS)})")
    if args.workers is not None:
        raise ConfigError(f"--workers counts evaluation processes within one run (`evoprune prune`); runs at once "
                          f"are --parallel {args.workers}")
    if args.parallel is not None and args.parallel < 1:
        raise ConfigError(f"--parallel must be at least 1, got {args.parallel}")
    if args.ray_address and args.executor != "ray":
        raise ConfigError("--ray-address goes with --executor ray")
    from ..experiments.experiment import run as run_experiment
    from ..network.custom import import_modules
    from ..results.manifest import command_line

    import_modules(args.imports)  # refused before any work, as a spec's own imports are
    spec = replace(spec, imports=tuple(dict.fromkeys([*spec.imports, *args.imports])))

    try:
        options = {**({"address": args.ray_address} if args.ray_address else {}),
                   **({"verbose": True} if args.verbose else {})}
        outcome = run_experiment(spec, args.out, spec_text=text, parallel=args.parallel or cores(),
                                 executor=args.executor, options=options, force=args.force,
                                 progress=not args.no_progress, baselines=args.baselines)
    except KeyboardInterrupt:
        print(f"evoprune: interrupted; the same command continues it, reusing the finished runs in {args.out} and "
              f"resuming the interrupted ones from their checkpoints: {command_line()}", file=sys.stderr)
        return 130
    print(f"{', '.join(v.name for v in spec.variants)} × {len(spec.seeds)} seeds -> {args.out}: summary.md, "
          f"summary.csv, anytime.png, tradeoff.png, layers.png ({len(outcome.reused)} runs reused, "
          f"{len(outcome.resumed)} resumed, {len(outcome.started)} started)")
    return 0


def report(args) -> int:
    import os

    from ..experiments.report import report as write_report

    if not os.path.isdir(args.out):
        raise ConfigError(f"{args.out}: no such folder")
    for path in write_report(args.out):
        print(path)
    return 0
