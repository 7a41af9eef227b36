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
                                     "(opening with the statistical verdict), summary.csv and the figures. A spec "
                                     "with problems ([problems.NAME] tables, or suite = \"small\") is a benchmark: "
                                     "each problem is such an experiment in OUT/problems/<name>/, and OUT/summary.md "
                                     "compares the variants across them (ECDFs, expected running times, ranks).")
    r.add_argument("spec", metavar="SPEC", help="the experiment's TOML file")
    r.add_argument("--out", required=True, help="the experiment's folder")
    add_spread_args(r)
    add_import_arg(r)
    r.set_defaults(run=run)
    rep = steps.add_parser("report", help="redraw an experiment's summary and figures from its files (no TensorFlow)")
    rep.add_argument("out", metavar="OUT", help="the experiment's folder")
    rep.set_defaults(run=report)
    exp = steps.add_parser("export", help="write an experiment's runs in IOHprofiler's format (no TensorFlow)",
                           description="Writes OUT's finished runs for IOHanalyzer and iohinspector: per variant, "
                                       "IOH's JSON index and .dat files (evaluations, and the global sparsity of "
                                       "the sparsest feasible mask so far, maximised). Replaces an earlier export "
                                       "in DIR; refuses a DIR holding anything else.")
    exp.add_argument("out", metavar="OUT", help="the experiment's folder")
    exp.add_argument("--format", default="ioh",
                     help="the format: ioh (IOHprofiler's, IOHexperimenter ≥ 0.3: JSON + .dat; the default)")
    exp.add_argument("--to", metavar="DIR", help="the folder to write (default OUT/<format>)")
    exp.set_defaults(run=export)


def run(args) -> int:
    from ..experiments import spec as specs

    spec, text = specs.load(args.spec)
    for model in (spec.model, *(p.model for p in spec.problems)):
        if "path" in model:  # as `compare --model` does: refused before OUT is made
            check_model_file(model["path"])
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
        spreading = dict(parallel=args.parallel or cores(), executor=args.executor, options=options,
                         force=args.force, progress=not args.no_progress, baselines=args.baselines)
        if spec.problems:
            from ..experiments import benchmark

            outcomes = benchmark.run(spec, args.out, spec_text=text, **spreading)
            print(f"{', '.join(v.name for v in spec.variants)} × {len(spec.seeds)} seeds × {len(spec.problems)} "
                  f"problems -> {args.out}: summary.md, ecdf.png, cd.png, problems/<name>/ "
                  f"({sum(len(o.reused) for o in outcomes.values())} runs reused, "
                  f"{sum(len(o.resumed) for o in outcomes.values())} resumed, "
                  f"{sum(len(o.started) for o in outcomes.values())} started)")
            return 0
        outcome = run_experiment(spec, args.out, spec_text=text, **spreading)
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

    from ..experiments import benchmark
    from ..experiments.report import report as write_report

    if not os.path.isdir(args.out):
        raise ConfigError(f"{args.out}: no such folder")
    for path in (benchmark.report if benchmark.is_benchmark(args.out) else write_report)(args.out):
        print(path)
    return 0


def export(args) -> int:
    from ..experiments.export import export as write_export

    done = write_export(args.out, args.format, args.to)
    variants = list(dict.fromkeys(t.variant for t in done.traces))
    problems = list(dict.fromkeys(t.problem for t in done.traces))
    n = len(done.unfinished)
    left = f"; {n} unfinished run{'s' if n > 1 else ''} left out" if n else ""
    print(f"{len(done.traces)} runs ({len(variants)} variant{'s' if len(variants) > 1 else ''}, {len(problems)} "
          f"problem{'s' if len(problems) > 1 else ''}) -> {done.folder}: {len(done.files)} files{left}")
    return 0
