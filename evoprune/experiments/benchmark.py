"""A benchmark folder: each problem of a multi-problem spec run as its own experiment, then one report across them.

OUT/spec.toml and OUT/benchmark.json record the benchmark; OUT/problems/<name>/ is each problem's experiment
folder (its spec, runs, verdict and figures, reused and resumed as any experiment's). The report across problems
(`report`) is drawn from those files alone.
"""
from __future__ import annotations

import os
from typing import Callable, Mapping

import numpy as np

from ..errors import ConfigError, EvopruneError
from ..results import aggregate, io
from ..results.manifest import environment, now
from ..results.run_folder import check_out, check_out_path
from . import anytime, anytime_report, experiment
from .baselines import experiment_data
from .spec import Spec, to_toml

MANIFEST = aggregate.BENCHMARK_MANIFEST
PROBLEMS_DIR = "problems"


def is_benchmark(out: str) -> bool:
    """Whether OUT holds a benchmark (several problems) rather than one experiment."""
    return os.path.exists(os.path.join(out, MANIFEST))


def problem_folder(out: str, name: str) -> str:
    return os.path.join(out, PROBLEMS_DIR, name)


def check_folder(out: str, spec: Spec, force: bool) -> None:
    """Refuse, before any work, a path that is a file, a folder holding a run or an experiment of one problem, or
    one holding a benchmark of another spec (unless `force`; a spec adding variants or problems extends it)."""
    check_out_path(out)
    if force or not os.path.isdir(out):
        return
    check_out(out)
    if os.path.exists(os.path.join(out, aggregate.MANIFEST)):
        raise ConfigError(f"{out} holds an experiment of one problem; choose another --out for a benchmark")
    if is_benchmark(out):
        held = io.read_json(os.path.join(out, MANIFEST)).get("spec", {})
        new = spec.to_dict()
        kept = all(new["problems"].get(name) == p for name, p in held.get("problems", {}).items())
        if not kept or {k: v for k, v in held.items() if k not in ("problems", "variants", "certify")} != \
                {k: v for k, v in new.items() if k not in ("problems", "variants", "certify")}:
            raise ConfigError(f"{out} holds a benchmark made from another spec; pass --force to overwrite it or "
                              "choose another --out")


def run(spec: Spec, out: str, *, spec_text: str, parallel: int = 1, executor: str = "process",
        options: Mapping = {}, force: bool = False, progress: bool = True, baselines: str | None = None,
        say: Callable[[str], None] = print) -> dict[str, experiment.Outcome]:
    """Run every problem of `spec` as its own experiment in OUT/problems/<name>/ (`experiment.run`, with the same
    spreading options), one problem after another, then write the report across them. Every problem's data is
    read before any model is trained, so a problem whose data cannot be read stops the benchmark at once."""
    check_folder(out, spec, force)
    for problem in spec.problems:
        sub = spec.for_problem(problem)
        try:
            experiment_data(sub.model.get("path"), sub.data.get("dataset"), sub.data.get("path"), sub.training(),
                            sub.val_fraction)
        except EvopruneError as e:
            raise ConfigError(f"problem {problem.name}: {e}") from None
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, experiment.SPEC_FILE), "w") as f:
        f.write(spec_text)
    record_path = os.path.join(out, MANIFEST)
    record = io.read_json(record_path) if os.path.exists(record_path) and not force else {
        "started": now(), "sessions": []}
    record.update(spec=spec.to_dict(), problems=[p.name for p in spec.problems],
                  targets={p.name: list(p.targets) for p in spec.problems})
    record["sessions"].append({"started": now(), "parallel": parallel, **environment()})
    io.write_json(record_path, record)
    outcomes = {}
    for i, problem in enumerate(spec.problems, 1):
        say(f"problem {i} of {len(spec.problems)}: {problem.name}")
        sub = spec.for_problem(problem)
        outcomes[problem.name] = experiment.run(sub, problem_folder(out, problem.name), spec_text=to_toml(sub),
                                                parallel=parallel, executor=executor, options=options, force=force,
                                                progress=progress, baselines=baselines, say=say)
    record["sessions"][-1]["finished"] = now()
    io.write_json(record_path, record)
    report(out)
    return outcomes


def report(out: str) -> list[str]:
    """Redraw every problem's report, then OUT/summary.md across problems (a plain-words headline, the anytime
    analysis against each problem's targets, the ranks of the certified sparsities, each problem's verdict) with
    OUT/ecdf.png and OUT/cd.png; the paths written. From the files alone, as an experiment's report."""
    from .report import report as experiment_report

    record = io.read_json(os.path.join(out, MANIFEST))
    folders = {name: problem_folder(out, name) for name in record["problems"]
               if os.path.isdir(os.path.join(problem_folder(out, name), aggregate.RUNS_DIR))}
    if not folders:
        raise ConfigError(f"{out}: no problem has finished runs yet")
    paths = [p for folder in folders.values() for p in experiment_report(folder)]
    runs = {name: aggregate.load_runs(folder) for name, folder in folders.items()}
    lines, figures = anytime_report.report(out, runs, record["targets"])
    summary = [f"# {record['spec'].get('title') or 'Benchmark'}", "", *headline(runs), "", *lines, "",
               *certified_ranks(runs), "", "## Each problem's verdict", ""]
    for name, folder in folders.items():
        summary += [f"### {name} ([its report](problems/{name}/summary.md): accuracy and drop too)", "",
                    *verdict_lines(folder), ""]
    path = os.path.join(out, "summary.md")
    with open(path, "w") as f:
        f.write("\n".join(summary).rstrip("\n") + "\n")
    return [*paths, path, *figures]


def _mean_certified(runs: list) -> dict[str, tuple[float, float, int]]:
    """variant -> (mean global sparsity of its answers, mean test drop in points, runs), in the runs' order."""
    out: dict[str, list] = {}
    for r in runs:
        s = r.summary
        out.setdefault(r.variant, []).append((s["sparsity_global"], aggregate.value(s, "test_drop")))
    return {v: (float(np.mean([a for a, _ in xs])), float(np.mean([d for _, d in xs])) * 100, len(xs))
            for v, xs in out.items()}


def headline(runs: dict[str, list]) -> list[str]:
    """The benchmark in plain words: per problem, which variant pruned most and for how much test accuracy."""
    lines = []
    for name, problem_runs in runs.items():
        means = _mean_certified(problem_runs)
        best = max(means, key=lambda v: means[v][0])
        worst = min(means, key=lambda v: means[v][0])
        certified = any("certified" in r.summary for r in problem_runs)
        lines.append(f"- **{name}**: {best} pruned the most, {means[best][0] * 100:.2f} % of the weights "
                     f"({'certified, ' if certified else ''}mean of {means[best][2]} seeds) for a mean test drop of "
                     f"{means[best][1]:.2f} point; {worst} the least, {means[worst][0] * 100:.2f} % for "
                     f"{means[worst][1]:.2f} point.")
    return ["Global sparsity of each run's answer, on test images no search saw:", "", *lines]


def certified_ranks(runs: dict[str, list]) -> list[str]:
    """The variants ranked across problems on the mean sparsity of their answers (Friedman, Nemenyi)."""
    scores = {name: {v: m[0] for v, m in _mean_certified(problem_runs).items()} for name, problem_runs in runs.items()}
    ranking = anytime.ranks(scores, "higher")
    return ["### Ranks of the answers' sparsity across problems", "",
            *(f"- {s}" for s in anytime_report.ranking_sentences(ranking, "sparsity of the answer"))]


def verdict_lines(folder: str) -> list[str]:
    """The verdict bullets on global sparsity of a problem's summary.md (its section "## Verdict"; those on
    accuracy and drop are in the problem's own report)."""
    with open(os.path.join(folder, "summary.md")) as f:
        text = f.read()
    section = text.split("## Verdict", 1)[1].split("\n## ", 1)[0] if "## Verdict" in text else ""
    return [line for line in section.splitlines()
            if line.startswith("- ") and "global sparsity" in line] or ["(no verdict on global sparsity)"]
