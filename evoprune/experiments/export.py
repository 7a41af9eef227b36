"""An experiment's runs in other tools' formats (no TensorFlow): IOHprofiler's, for IOHanalyzer and iohinspector.

The IOH files are those IOHexperimenter's `ioh.logger.Analyzer` writes (ioh ≥ 0.3, checked against 0.4.2's own
output), one folder per variant (IOH's algorithm):

    DIR/<variant>/IOHprofiler_f<id>_<problem>.json                    the index: function, algorithm, runs
    DIR/<variant>/data_f<id>_<problem>/IOHprofiler_f<id>_DIM<n>.dat   "evaluations raw_y", one block per run

The mapping: function = the pruning problem (ids 1.., a benchmark's in its order, else by name), dimension =
the genome's length (the prunable weights the run's masks cover), algorithm = the variant, instance = the seed
(also the run attribute "seed"), raw_y = the global sparsity of the sparsest feasible mask so far, maximised. An
infeasible row never raises it; the first evaluation of every run is the unpruned model (sparsity 0, which meets
any floor), so each run's block opens at evaluation 1 with 0, as IOH's readers expect. A block lists evaluation
1, every improvement and the run's last evaluation, as the Analyzer's default triggers do. The figures are the
search's own (its history), before any certification backs the final mask off.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
from dataclasses import dataclass

from ..errors import ConfigError
from ..results import aggregate, io
from .anytime import best_so_far

FORMATS = ("ioh",)
IOH_VERSION = "0.4.2"   # the ioh release whose Analyzer files these mirror
SUITE = "evoprune"
MAX_INSTANCE = 65535    # IOH's readers hold instances in 16 bits (iohinspector: UInt16)
_FILE = re.compile(r"^[^/]+/(IOHprofiler_f\d+_[^/]*\.json|data_f\d+_[^/]*/IOHprofiler_f\d+_DIM\d+\.dat)$")


@dataclass(frozen=True)
class Trace:
    """One run as IOH sees it: which problem, algorithm and seed, and its best-so-far records."""

    problem: str
    variant: str
    algorithm: str
    seed: int
    dimension: int
    evaluations: int                          # the evaluations the run made in all
    records: tuple[tuple[int, float], ...]    # (evaluations, best so far): at 1, each improvement, the last

    @property
    def best(self) -> tuple[int, float]:
        """(evaluations, value) where the run first reached its best."""
        return next(r for r in self.records if r[1] == self.records[-1][1])


@dataclass(frozen=True)
class Export:
    folder: str
    files: list[str]
    traces: list[Trace]
    unfinished: list[str]    # run folders without summary.json, left out


def export(out: str, fmt: str = "ioh", to: str | None = None) -> Export:
    """Write OUT's finished runs in format `fmt` to `to` (default OUT/<fmt>), replacing an earlier export there."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: the formats are {', '.join(FORMATS)}")
    if not os.path.isdir(out):
        raise ConfigError(f"{out}: no such folder")
    to = to or os.path.join(out, fmt)
    runs, unfinished = find_runs(out)
    if not runs:
        raise ConfigError(f"{out}: no finished runs to export (no {aggregate.RUNS_DIR}/*/summary.json)")
    _check_target(to)
    traces = [trace(run, problem) for problem, run in runs]
    tmp = f"{to.rstrip(os.sep)}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        files = write_ioh(traces, tmp)
        if os.path.isdir(to):
            shutil.rmtree(to)
        os.replace(tmp, to)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Export(to, [os.path.join(to, os.path.relpath(f, tmp)) for f in files], traces, unfinished)


# ----- the runs -----
def find_runs(out: str) -> tuple[list[tuple[str, aggregate.Run]], list[str]]:
    """[(problem, run)] of OUT's finished runs, by problem (a benchmark's in its order), the spec's variant order,
    then seed; and the run folders not finished (a history but no summary.json), left out.

    A benchmark's runs are OUT/problems/<problem>/runs/<run>/; an experiment's OUT/runs/<run>/ (its problem named
    after OUT) or OUT/runs/<problem>/<run>/. A run.json naming its "problem" overrides the folder's."""
    from . import benchmark

    if benchmark.is_benchmark(out):
        declared = io.read_json(os.path.join(out, benchmark.MANIFEST)).get("problems") or []
        held = sorted(os.listdir(os.path.join(out, benchmark.PROBLEMS_DIR))) \
            if os.path.isdir(os.path.join(out, benchmark.PROBLEMS_DIR)) else []
        experiments = [(name, benchmark.problem_folder(out, name)) for name in dict.fromkeys([*declared, *held])]
    else:
        experiments = [(os.path.basename(os.path.abspath(out)), out)]
    found, unfinished = [], []
    for rank, (name, folder) in enumerate(experiments):
        runs, left = _experiment_runs(folder, name)
        found += [(rank, problem, run) for problem, run in runs]
        unfinished += left
    ranks = {}
    for rank, problem, _ in found:
        ranks.setdefault(problem, (rank, problem))
    found.sort(key=lambda x: ranks[x[1]])  # stable: within a problem, the order _experiment_runs gave
    return [(problem, run) for _, problem, run in found], unfinished


def _experiment_runs(out: str, default: str) -> tuple[list[tuple[str, aggregate.Run]], list[str]]:
    root = os.path.join(out, aggregate.RUNS_DIR)
    found, unfinished = [], []
    for folder in sorted(glob.glob(os.path.join(root, "*", "")) + glob.glob(os.path.join(root, "*", "*", ""))):
        folder = folder.rstrip(os.sep)
        if not os.path.exists(os.path.join(folder, "summary.json")):
            if os.path.exists(os.path.join(folder, "history.csv")):
                unfinished.append(folder)
            continue
        info_path = os.path.join(folder, "run.json")
        run = aggregate.Run(folder, io.read_json(os.path.join(folder, "summary.json")),
                            io.read_json(info_path) if os.path.exists(info_path) else {})
        nested = os.path.dirname(folder) != root
        found.append((problem_of(run, os.path.basename(os.path.dirname(folder)) if nested else default), run))
    spec = aggregate.manifest(out).get("spec") or {}
    order = list(spec.get("variants") or [])
    order += sorted({r.variant for _, r in found} - set(order))
    found.sort(key=lambda pr: (pr[0], order.index(pr[1].variant), pr[1].seed))
    return found, unfinished


def problem_of(run: aggregate.Run, default: str) -> str:
    """The run's problem: run.json's "problem" (a name, or a table with one), else `default`."""
    p = run.info.get("problem")
    if isinstance(p, dict):
        p = p.get("name") or json.dumps(p, sort_keys=True)
    return str(p) if p not in (None, "") else default


def dimension_of(run: aggregate.Run) -> int:
    """The genome's length: the prunable weights the run's layers hold (summary.json), else the baseline's."""
    layers = run.summary.get("layers") or []
    if layers and all("kernel_size" in layer for layer in layers):
        return int(sum(layer["kernel_size"] for layer in layers))
    experiment = os.path.dirname(os.path.dirname(run.folder))  # OUT of OUT/runs/<run>/
    total = (aggregate.manifest(experiment).get("baseline") or {}).get("total_prunable_weights")
    if total:
        return int(total)
    raise ConfigError(f"{run.folder}: cannot tell the genome's length (no layers in summary.json, "
                      f"no baseline in experiment.json)")


def trace(run: aggregate.Run, problem: str) -> Trace:
    history = run.history() if os.path.exists(os.path.join(run.folder, "history.csv")) else []
    records, last = best_so_far(history)
    total = max(int(run.summary.get("evaluations") or 0), last, records[-1][0])
    if total > records[-1][0]:
        records.append((total, records[-1][1]))
    return Trace(problem, run.variant, run.algorithm, int(run.seed), dimension_of(run), total, tuple(records))


# ----- IOHprofiler -----
def write_ioh(traces: list[Trace], to: str) -> list[str]:
    """Write `traces` as IOH's JSON index files and .dat files under `to`; return the paths written."""
    problems = list(dict.fromkeys(t.problem for t in traces))  # ids 1.. in the traces' order
    fids = {p: i for i, p in enumerate(problems, 1)}
    seeds_fit = all(0 <= t.seed <= MAX_INSTANCE for t in traces)
    files = []
    for variant in dict.fromkeys(t.variant for t in traces):
        for problem in problems:
            mine = [t for t in traces if t.variant == variant and t.problem == problem]
            if not mine:
                continue
            fid, name = fids[problem], safe(problem)
            folder = os.path.join(to, safe(variant))
            scenarios = []
            for dim in sorted({t.dimension for t in mine}):
                runs = [t for t in mine if t.dimension == dim]
                data = f"data_f{fid}_{name}/IOHprofiler_f{fid}_DIM{dim}.dat"
                os.makedirs(os.path.join(folder, os.path.dirname(data)), exist_ok=True)
                with open(os.path.join(folder, data), "w") as f:
                    for t in runs:
                        f.write("evaluations raw_y\n")
                        f.writelines(f"{e} {y!r}\n" for e, y in t.records)
                files.append(os.path.join(folder, data))
                scenarios.append({"dimension": dim, "path": data, "runs": [
                    {"instance": t.seed if seeds_fit else i, "evals": t.evaluations,
                     "best": {"evals": t.best[0], "y": t.best[1], "x": []}, "seed": t.seed}
                    for i, t in enumerate(runs, 1)]})
            index = {"version": IOH_VERSION, "suite": SUITE, "function_id": fid, "function_name": problem,
                     "maximization": True, "algorithm": {"name": variant, "info": mine[0].algorithm},
                     "run_attributes": ["seed"], "attributes": ["evaluations", "raw_y"], "scenarios": scenarios}
            path = os.path.join(folder, f"IOHprofiler_f{fid}_{name}.json")
            with open(path, "w") as f:
                json.dump(index, f, indent=1)
                f.write("\n")
            files.append(path)
    return files


def safe(name: str) -> str:
    """`name` as a file name: letters, digits, '-', '_' and '.' kept, anything else '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "_"


def _check_target(to: str) -> None:
    """Refuse a target that is a file, or a folder holding anything but an earlier export."""
    if os.path.exists(to) and not os.path.isdir(to):
        raise ConfigError(f"--to {to}: that is a file, not a folder")
    if not os.path.isdir(to):
        return
    others = [p for p in (os.path.relpath(os.path.join(d, f), to) for d, _, fs in os.walk(to) for f in fs)
              if not _FILE.match(p.replace(os.sep, "/"))]
    if others:
        raise ConfigError(f"--to {to}: that folder holds other files ({', '.join(sorted(others)[:3])}"
                          f"{', …' if len(others) > 3 else ''}); an export replaces only an earlier export")
