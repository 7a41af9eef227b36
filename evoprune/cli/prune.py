"""`evoprune prune`: search pruning masks for a model and write the run's files."""
from __future__ import annotations

import argparse
import os
import sys
import time

from ..errors import ConfigError
from .common import add_data_args, add_import_arg, check_model_file


def add_search_args(p) -> None:
    """Search settings shared by `prune` and `compare` (None = the preset's or the default value), each a flag made
    from its declaration in `SearchConfig` (`search.config.setting`): the common ones among the command's main
    options, the others under "research options". Every registered algorithm's own settings get a flag too
    (`--t0`, `--population`, …), besides `--set`."""
    from ..algorithms import setting_types
    from ..search.config import PRESETS

    add_data_args(p)
    add_import_arg(p)
    research = p.add_argument_group("research options (shared search settings; defaults are evoprune's search)")
    research.add_argument("--preset", choices=sorted(PRESETS),
                          help="study: the reference study's settings and protocol")
    for f in flagged_settings():
        _add_setting(p if f.metadata["common"] else research, f)
    algorithm = p.add_argument_group("algorithm settings (each applies to the algorithms that have it)")
    for name, (kind, text) in sorted(setting_types().items()):
        if kind is tuple:  # a pair, written LOW,HIGH
            algorithm.add_argument(f"--{name.replace('_', '-')}", metavar="LOW,HIGH", help=text,
                                   type=lambda v, n=name: _pair(n, v))
        else:
            algorithm.add_argument(f"--{name.replace('_', '-')}", type=kind, help=text)
    algorithm.add_argument("--set", action="append", default=[], metavar="[ALGORITHM.]KEY=VALUE",
                           help="any search setting (shared or an algorithm's), e.g. t0=0.004 or ga.population=20; "
                                "repeatable; wins over the flags")


def flagged_settings() -> list:
    """The shared settings with a flag of their own: every `SearchConfig` field declared with one."""
    from dataclasses import fields

    from ..search.config import SearchConfig

    return [f for f in fields(SearchConfig) if f.metadata.get("flag")]


def _add_setting(group, f) -> None:
    """The flag of shared setting `f`, from its declaration: bools as --NAME / --no-NAME, choices listed."""
    flag, default = f"--{f.name.replace('_', '-')}", f.default
    text = f"{f.metadata['help']} (default {'on' if default is True else 'off' if default is False else default})"
    if isinstance(default, bool):
        group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
    else:
        group.add_argument(flag, type=type(default), choices=f.metadata["choices"], default=None, help=text)


def _pair(name: str, text: str) -> tuple:
    from ..experiments.settings import convert

    return convert(f"{name}={text}", text, tuple)


def executor_options(args) -> dict:
    """Options of the chosen executor, checked before any work starts."""
    if args.ray_address and args.executor != "ray":
        raise ConfigError("--ray-address goes with --executor ray")
    options = {"address": args.ray_address} if args.ray_address else {}
    return {**options, "verbose": True} if args.executor == "ray" and args.verbose else options


def given_settings(args, algorithms: list[str]) -> dict[str, dict]:
    """Per algorithm, the settings the command line gives it (the budget, preset and seed aside): the shared
    flags, the algorithm-setting flags it has, then `--set` (names and values checked)."""
    from ..algorithms import setting_types
    from ..experiments.settings import check_given, owns, parse_settings

    flags = {f.name: getattr(args, f.name) for f in flagged_settings()
             if f.name != "budget" and getattr(args, f.name) is not None}
    given = {k: getattr(args, k) for k in setting_types() if getattr(args, k, None) is not None}
    check_given(given, algorithms)
    per_algorithm = parse_settings(args.set, algorithms)
    return {a: {**flags, **{k: v for k, v in given.items() if owns(a, k)}, **per_algorithm[a]} for a in algorithms}


def search_config(args, algorithm: str, seed: int | None):
    """The search config of `prune`: the preset, then the flags, then `--set`."""
    from ..search.config import make_config

    return make_config(args.preset, seed=seed, budget=args.budget, **given_settings(args, [algorithm])[algorithm])


def add_parser(sub) -> None:
    from ..algorithms import ALGORITHMS

    from ..executors import EXECUTORS

    p = sub.add_parser("prune", help="search pruning masks for a model",
                       description="Search masks for one model with one algorithm; the run's folder holds "
                                   "history.csv, summary.json, masks.npz and pruned.keras.")
    p.add_argument("--model", help="a .keras model (from `evoprune train`: DIR/model.keras)")
    p.add_argument("--algorithm", help=f"one of: {', '.join(ALGORITHMS)}")
    p.add_argument("--seed", type=int, help="random seed of the search (default 0)")
    p.add_argument("--out", help="output folder (default runs/<timestamp>)")
    p.add_argument("--resume", metavar="OUT", help="continue the run in OUT from its last checkpoint")
    p.add_argument("--workers", type=int, metavar="N",
                   help="evaluation processes within the run (default: none, evaluations in this process); "
                        "without --executor, a process pool")
    add_search_args(p)
    r = p.add_argument_group("where evaluations run, checkpoints and output")
    r.add_argument("--executor", help=f"where evaluations run: {', '.join(EXECUTORS)} (default: process with "
                                      "--workers, else serial)")
    r.add_argument("--ray-address", help="address of a running Ray cluster (HOST:PORT) for --executor ray")
    r.add_argument("--checkpoint-every", type=int, default=25, metavar="N",
                   help="checkpoint at most every N evaluations, mid-step included (default 25)")
    r.add_argument("--checkpoint-seconds", type=float, default=60.0, metavar="T",
                   help="… or every T seconds, whichever comes first (default 60)")
    r.add_argument("--finetune-epochs", type=int, default=0,
                   help="then fine-tune the pruned model this many epochs, its masks held fixed (default 0: no)")
    r.add_argument("--force", action="store_true", help="overwrite a run already in --out")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--verbose", action="store_true", help="let Ray's own notices through")
    p.set_defaults(run=run)


# What a resumed run takes from its run.json rather than from the command line.
_RESUMED = ("model", "algorithm", "dataset", "data", "executor", "workers", "ray_address", "checkpoint_every",
            "checkpoint_seconds", "preset", "finetune_epochs", "imports")
# … of which these only unless the command gives others (`_resumed_executor`).
_WHERE = ("executor", "workers", "ray_address")


def _resumed_args(args):
    """The original command's arguments for `--resume OUT` (executor and workers may be changed)."""
    from ..results import io

    path = os.path.join(args.resume, "run.json")
    if not os.path.exists(path):
        raise ConfigError(f"{args.resume}: no run to resume (no run.json)")
    saved = io.read_json(path)
    if "cli" not in saved:
        raise ConfigError(f"{args.resume}: not a run of `evoprune prune` (an experiment's run resumes with "
                          "`evoprune experiment run` on its spec)")
    for name in _RESUMED:
        if name in saved["cli"] and name not in _WHERE:  # (a run from an older evoprune may lack one)
            setattr(args, name, saved["cli"][name])
    _resumed_executor(args, saved["cli"])
    args.out, args.config = args.resume, saved["config"]
    return args


def _resumed_executor(args, saved: dict) -> None:
    """Where a resumed run evaluates: as it did, unless the command says otherwise. `--workers` alone keeps a
    pool executor (a serial run's becomes a process pool); `--executor` alone keeps a pool's workers."""
    pool = saved.get("executor") not in (None, "serial")  # (older runs recorded serial with unused workers)
    if args.executor is None and pool:
        args.executor = saved["executor"]
    if args.workers is None and pool and args.executor not in (None, "serial"):
        args.workers = saved.get("workers")
    if args.ray_address is None and args.executor == "ray":
        args.ray_address = saved.get("ray_address")


def run(args) -> int:
    from ..algorithms import algorithm_class, check_budget, make_algorithm, units
    from ..executors import executor_name, make_executor
    from ..experiments.baselines import certification_split, data_for, read_baseline, run_info, search_data
    from ..pruned.certify import check_images
    from ..results.run_folder import check_out, check_out_path
    from ..search.config import SearchConfig

    if args.resume:
        args = _resumed_args(args)
    elif not args.model or not args.algorithm:
        raise ConfigError("--model and --algorithm are required (or --resume OUT)")
    if (args.finetune_epochs or 0) < 0:
        raise ConfigError(f"--finetune-epochs must be ≥ 0, got {args.finetune_epochs}")
    algorithm_class(args.algorithm)
    args.executor = executor_name(args.executor, args.workers)
    options = executor_options(args)
    make_executor(args.executor, args.workers, **options)  # checks the name and worker count
    if args.resume:
        config = SearchConfig.from_dict(args.config)
    else:
        config = search_config(args, args.algorithm, args.seed)
    algo = make_algorithm(args.algorithm, config.validate())
    check_budget(algo, config, 1)  # the least a run needs, before the model is read
    check_model_file(args.model)
    baseline = read_baseline(args.model)
    # What can be checked before the model is read: the layers recorded beside it, else one.
    check_budget(algo, config, units(algo, config, len((baseline or {}).get("prunable_layers", [None]))))
    out = args.out or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    if not args.resume:
        check_out_path(out)
        check_out(out, args.force)
    data = data_for(baseline, args.dataset, args.data)  # every input is checked before TensorFlow loads
    data, certification, record = certification_split(data, config)
    if certification is not None:
        check_images(len(certification[1]), config.delta, config.confidence)

    from ..network import models
    from ..api import Execution, Folder, Hooks, Images, prune

    model = models.load_model(args.model, args.imports)
    models.check_input_shape(model, data.x_test)
    x_search, y_search = search_data(data, config.eval_set)
    info = {**run_info(args.model, args.preset, data, config.eval_set, record),
            "cli": {name: getattr(args, name) for name in _RESUMED}}
    try:
        images = Images((x_search, y_search), (data.x_test, data.y_test), (data.x_train, data.y_train),
                        certification)
        result = prune(model, images, args.algorithm, config,
                       folder=Folder(out, args.force, bool(args.resume), args.checkpoint_every,
                                     args.checkpoint_seconds, info),
                       execution=Execution(args.executor, args.workers, options, args.imports),
                       hooks=Hooks(progress=not args.no_progress), finetune_epochs=args.finetune_epochs or 0)
    except KeyboardInterrupt:
        print(f"evoprune: interrupted; {_how_to_continue(out)}", file=sys.stderr)
        return 130
    s = result.summary
    print(f"{args.algorithm}: test accuracy {s['baseline_accuracy']:.4f} -> {s['final_accuracy']:.4f}, "
          f"sparsity {s['sparsity_layer_mean']:.4f} (layer mean), {s['sparsity_global']:.4f} (global), "
          f"{s['evaluations']} evaluations in {s['seconds']:.1f} s -> {out}")
    if "certified" in s:
        c = s["certified"]
        print(f"certified on {c['images']} images no search decision touched: global sparsity "
              f"{s['search']['sparsity_global']:.4f} found -> {s['sparsity_global']:.4f} certified (drop "
              f"{c['drop'] * 100:.2f} points, bound {c['bound'] * 100:.2f} ≤ {c['delta'] * 100:g} at "
              f"{c['confidence']:g}); its test drop {c['test_drop'] * 100:.2f} ± "
              f"{c['test_drop_standard_error'] * 100:.2f} points")
    else:
        print("uncertified: the search's own masks, judged only on the images it decided on")
    e = s["export"]
    print(f"weights file {e['original_weights_bytes']} bytes; pruned: gzip {e['pruned_weights_gzip_bytes']}, "
          f"sparse {e['pruned_sparse_bytes']} bytes (files shrink, Keras inference time does not)")
    if "finetune" in s:
        f = s["finetune"]
        print(f"fine-tuned {f['epochs']} epochs: test accuracy {f['test_accuracy_before']:.4f} -> "
              f"{f['test_accuracy_after']:.4f} -> {os.path.join(out, 'finetuned.keras')}")
    return 0


def _how_to_continue(out: str) -> str:
    """What an interrupted run left in `out`, and how to continue it."""
    from ..results.checkpoint import CHECKPOINT, PREVIOUS

    if any(os.path.exists(os.path.join(out, name)) for name in (CHECKPOINT, PREVIOUS)):
        return f"the checkpoint and history in {out} are intact. Continue with: evoprune prune --resume {out}"
    if os.path.exists(os.path.join(out, "run.json")):
        return (f"no checkpoint was written yet; `evoprune prune --resume {out}` starts the run again from the "
                "beginning")
    return f"nothing was recorded in {out} yet; run the same command again"
