"""A comparison's tables: runs read back from their files, mean ± sample std over seeds, summary.md and summary.csv."""
from __future__ import annotations

import csv
import glob
import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..search.config import SearchConfig, make_config
from ..network.masks import WHOLE
from . import io
from .history import read_history

RUNS_DIR = "runs"
MANIFEST = "compare.json"


@dataclass(frozen=True)
class Run:
    """One finished run of a comparison: its folder, summary.json and run.json."""

    folder: str
    summary: dict
    info: dict

    @property
    def algorithm(self) -> str:
        return self.summary["algorithm"]

    @property
    def seed(self) -> int:
        return self.summary["seed"]

    def history(self) -> list[dict]:
        return read_history(os.path.join(self.folder, "history.csv"))


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation (ddof=1; NaN below two values) and count over seeds."""

    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class Metric:
    key: str            # the row name in summary.csv
    label: str          # the row name in summary.md
    field: str          # the summary.json field it is read from
    kind: str           # how summary.md shows it: a key of FORMATS
    worst: bool = False  # the minimum over seeds instead of mean ± std


# kind -> (factor, format) for summary.md; summary.csv keeps the raw values at full precision.
FORMATS = {"percent": (100.0, "{:.2f}"), "loss": (1.0, "{:.4f}"), "ratio": (1.0, "{:.4f}"),
           "count": (1.0, "{:.0f}"), "seconds": (1.0, "{:.1f}"), "rate": (1.0, "{:.1f}")}

METRICS = (
    Metric("baseline_accuracy", "Baseline accuracy (%)", "baseline_accuracy", "percent"),
    Metric("final_accuracy", "Final accuracy (%)", "final_accuracy", "percent"),
    Metric("worst_final_accuracy", "Worst seed's final accuracy (%)", "final_accuracy", "percent", worst=True),
    Metric("baseline_loss", "Initial loss", "baseline_loss", "loss"),
    Metric("final_loss", "Final loss", "final_loss", "loss"),
    Metric("sparsity_layer_mean", "Sparsity, layer mean (%)", "sparsity_layer_mean", "percent"),
    Metric("sparsity_global", "Global sparsity (%)", "sparsity_global", "percent"),
    Metric("trade_off", "Trade-off score", "trade_off", "ratio"),
    Metric("evaluations", "Evaluations", "evaluations", "count"),
    Metric("seconds", "Search time (s)", "seconds", "seconds"),
    Metric("evaluations_per_second", "Evaluations per second", "evaluations_per_second", "rate"),
)

# Per layer, from summary.json "layers"; accuracy and loss are the test figures after that layer's search.
LAYER_METRICS = (
    Metric("kernel_size", "Kernel size", "kernel_size", "count"),
    Metric("weights_kept", "Weights kept", "weights_kept", "count"),
    Metric("sparsity", "Sparsity (%)", "sparsity", "percent"),
    Metric("accuracy", "Accuracy after (%)", "accuracy", "percent"),
    Metric("loss", "Loss after", "loss", "loss"),
)

Table = dict[str, dict[str, Stat]]  # metric key -> algorithm -> Stat


def load_runs(out: str) -> list[Run]:
    """Every finished run under OUT/runs (a folder with a summary.json), by algorithm then seed."""
    runs = []
    for path in glob.glob(os.path.join(out, RUNS_DIR, "*", "summary.json")):
        folder = os.path.dirname(path)
        info_path = os.path.join(folder, "run.json")
        runs.append(Run(folder, io.read_json(path), io.read_json(info_path) if os.path.exists(info_path) else {}))
    order = algorithms(out, runs)
    return sorted(runs, key=lambda r: (order.index(r.algorithm), r.seed))


def manifest(out: str) -> dict:
    """OUT/compare.json as `compare` wrote it, or {} for runs gathered by hand."""
    path = os.path.join(out, MANIFEST)
    return io.read_json(path) if os.path.exists(path) else {}


def algorithms(out: str, runs: Sequence[Run]) -> list[str]:
    """The algorithms in the order the comparison named them, then any others found, alphabetically."""
    named = [a for a in manifest(out).get("algorithms", []) if any(r.algorithm == a for r in runs)]
    return named + sorted({r.algorithm for r in runs} - set(named))


def stat(values: Sequence[float], worst: bool = False) -> Stat:
    """Mean ± sample std of the finite `values` (or their minimum with `worst`)."""
    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return Stat(math.nan, math.nan, 0)
    if worst:
        return Stat(float(a.min()), math.nan, int(a.size))
    return Stat(float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else math.nan, int(a.size))


def by_algorithm(runs: Sequence[Run]) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for r in runs:
        groups.setdefault(r.algorithm, []).append(r)
    return groups


def summary_table(runs: Sequence[Run]) -> Table:
    groups = by_algorithm(runs)
    return {m.key: {a: stat([r.summary[m.field] for r in rs], m.worst) for a, rs in groups.items()}
            for m in METRICS}


def layer_names(runs: Sequence[Run]) -> list[str]:
    return [layer["name"] for layer in runs[0].summary["layers"]]


def layer_table(runs: Sequence[Run]) -> dict[str, Table]:
    """layer -> metric key -> algorithm -> Stat, over the seeds of each algorithm."""
    groups = by_algorithm(runs)

    def values(rs, name, field):
        return [next(x[field] for x in r.summary["layers"] if x["name"] == name) for r in rs]

    return {name: {m.key: {a: stat(values(rs, name, m.field)) for a, rs in groups.items()} for m in LAYER_METRICS}
            for name in layer_names(runs)}


def layer_costs(run: Run) -> dict[str, float]:
    """Each layer's final cost: the lowest feasible cost its search recorded (the mask it kept), else NaN.

    A whole-model search's rows (layer "all") served every layer, so its cost is each layer's.
    """
    names = layer_names([run])
    best: dict[str, float] = {name: math.nan for name in names}
    for row in run.history():
        if row["feasible"] == "1":
            for name in names if row["layer"] == WHOLE else [row["layer"]]:
                best[name] = float(np.fmin(best[name], float(row["cost"])))  # fmin skips the NaN
    return best


# ----- summary.csv -----
def write_csv(path: str, runs: Sequence[Run]) -> None:
    """One row per metric (per-layer ones as layer.<name>.<metric>), then mean, std, n per algorithm."""
    algos = list(by_algorithm(runs))
    rows = list(summary_table(runs).items())
    rows += [(f"layer.{name}.{key}", by_alg) for name, t in layer_table(runs).items() for key, by_alg in t.items()]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric"] + [f"{a}_{c}" for a in algos for c in ("mean", "std", "n")])
        for key, by_alg in rows:
            w.writerow([key] + [x for a in algos for x in _csv_cells(by_alg[a])])


def _csv_cells(s: Stat) -> list:
    return ["" if math.isnan(s.mean) else s.mean, "" if math.isnan(s.std) else s.std, s.n]


# ----- summary.md -----
def fmt(s: Stat, kind: str) -> str:
    """`mean ± std` as summary.md shows it (the mean alone for one seed or a minimum)."""
    if s.n == 0:
        return "–"
    factor, f = FORMATS[kind]
    text = f.format(s.mean * factor)
    return text if math.isnan(s.std) else f"{text} ± {f.format(s.std * factor)}"


def markdown(out: str, runs: Sequence[Run]) -> str:
    algos = list(by_algorithm(runs))
    table = summary_table(runs)
    lines = [f"# Pruning comparison: {', '.join(algos)}", "", *describe(out, runs), "",
             "Figures on the test set; mean ± sample standard deviation (ddof = 1) over seeds, the mean alone "
             "for a single seed. The worst seed's accuracy is the minimum over seeds. Layer-mean sparsity is "
             "the mean of the layers' sparsities (as the study reports it); global sparsity counts every "
             "prunable weight. Trade-off = layer-mean sparsity × final accuracy / baseline accuracy.", "",
             _row(["Metric", *algos]), _row(["---"] + ["---:"] * len(algos))]
    lines += [_row([m.label, *(fmt(table[m.key][a], m.kind) for a in algos)]) for m in METRICS]
    lines += ["", "## Per layer", "",
              "Each layer's mask as searched, and the test accuracy and loss of the model with the masks of "
              "this and the earlier layers applied.", ""]
    metrics = LAYER_METRICS[1:]  # the kernel size is the same for every run
    lines += [_row(["Layer", "Kernel size", "Algorithm", *(m.label for m in metrics)]),
              _row(["---", "---:", "---"] + ["---:"] * len(metrics))]
    for name, t in layer_table(runs).items():
        size = next(iter(t["kernel_size"].values()))
        lines += [_row([name, f"{size.mean:.0f}", a, *(fmt(t[m.key][a], m.kind) for m in metrics)]) for a in algos]
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def describe(out: str, runs: Sequence[Run]) -> list[str]:
    """The protocol as bullet points: data, model, baseline training, budget, preset, search set, seeds, command."""
    info = runs[0].info
    data = info.get("data", {})
    sizes = data.get("sizes", {})
    split = data.get("split", {})
    lines = [f"- **Data**: {data.get('name', '?')} from `{data.get('source', '?')}` (train {sizes.get('train', '?')}, "
             f"validation {sizes.get('validation', '?')}, test {sizes.get('test', '?')} images; split seed "
             f"{split.get('seed', '?')}, validation fraction {split.get('val_fraction', '?')})",
             f"- **Model**: `{info.get('model', '?')}`"]
    training = (manifest(out).get("baseline") or {}).get("training")
    if training:
        lines.append(f"- **Baseline training**: {training['optimizer']}, learning rate {training['learning_rate']}, "
                     f"{training['epochs']} epochs, batch {training['batch_size']}, seed {training['seed']}")
    budgets = {r.algorithm: r.summary["budget"] for r in runs}
    budget = (f"{budgets[runs[0].algorithm]} evaluations per run" if len(set(budgets.values())) == 1 else
              ", ".join(f"{a}: {b}" for a, b in budgets.items()) + " evaluations per run")
    lines += [f"- **Budget**: {budget}; **preset**: {info.get('preset') or 'none'}; "
              f"**search set**: {data.get('search_set', runs[0].summary.get('eval_set', '?'))}",
              "- **Seeds**: " + "; ".join(f"{a}: {', '.join(str(r.seed) for r in rs)}"
                                             for a, rs in by_algorithm(runs).items())]
    settings = _settings(runs)
    if settings:
        lines.append(f"- **Settings** (shared ones that differ from the preset's or the defaults, then each "
                     f"algorithm's own): {settings}")
    commands = list(dict.fromkeys(r.info["command"] for r in runs if r.info.get("command")))
    lines += [f"- **Command**: `{c}`" for c in commands]
    return lines


def _settings(runs: Sequence[Run]) -> str:
    """Each algorithm's shared settings that differ from its preset's, then all of its own (the seed, budget and
    search set are listed apart)."""
    skip = ("seed", "budget", "eval_set")
    parts = []
    for a, rs in by_algorithm(runs).items():
        recorded = rs[0].info.get("config", {})
        config = SearchConfig.from_dict(recorded)
        defaults = make_config(rs[0].info.get("preset")).shared()
        changed = [f"{k}={v}" for k, v in config.shared().items()
                   if k not in skip and k in recorded and v != defaults[k]]
        own = [f"{k}={v}" for k, v in recorded.items() if k in config.settings]
        if changed or own:
            parts.append(f"{a}: {', '.join(changed + own)}")
    return "; ".join(parts)


def write_tables(out: str, runs: Sequence[Run]) -> list[str]:
    """Write OUT/summary.md and OUT/summary.csv; return their paths."""
    md, table = os.path.join(out, "summary.md"), os.path.join(out, "summary.csv")
    with open(md, "w") as f:
        f.write(markdown(out, runs))
    write_csv(table, runs)
    return [md, table]
