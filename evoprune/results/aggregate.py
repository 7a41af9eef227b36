"""An experiment's tables: runs read back from their files, statistics over seeds per variant, summary.md and .csv."""
from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..search.config import REMOVED, make_config, shared_names
from . import io
from .history import read_history

RUNS_DIR = "runs"
MANIFEST = "experiment.json"
BENCHMARK_MANIFEST = "benchmark.json"  # a folder of several problems, each an experiment (experiments.benchmark)
LEGACY_MANIFEST = "compare.json"  # what `evoprune compare` wrote before experiments


@dataclass(frozen=True)
class Run:
    """One finished run of an experiment: its folder, summary.json and run.json."""

    folder: str
    summary: dict
    info: dict

    @property
    def variant(self) -> str:
        """The variant it belongs to (its algorithm, for runs made before variants)."""
        return self.info.get("plan", {}).get("variant") or self.summary["algorithm"]

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
    """Over seeds: mean, sample standard deviation (ddof=1; NaN below two values), count, median and quartiles."""

    mean: float
    std: float
    n: int
    median: float = math.nan
    q1: float = math.nan
    q3: float = math.nan


@dataclass(frozen=True)
class Metric:
    key: str            # the row name in summary.csv
    label: str          # the row name in summary.md
    field: str          # the summary.json field it is read from (or a derived one, see `value`)
    kind: str           # how summary.md shows it: a key of FORMATS
    worst: bool = False  # the worst over seeds instead of mean ± std
    certified: bool = False  # shown only when some run was certified


# kind -> (factor, format) for summary.md; summary.csv keeps the raw values at full precision.
FORMATS = {"percent": (100.0, "{:.2f}"), "points": (100.0, "{:.2f}"), "loss": (1.0, "{:.4f}"),
           "precise": (1.0, "{:.3f}"), "ratio": (1.0, "{:.4f}"), "count": (1.0, "{:.0f}"), "seconds": (1.0, "{:.1f}"),
           "rate": (1.0, "{:.1f}")}

METRICS = (
    Metric("sparsity_global", "Global sparsity (%)", "sparsity_global", "percent"),
    Metric("final_accuracy", "Test accuracy (%)", "final_accuracy", "percent"),
    Metric("test_drop", "Test drop (points)", "test_drop", "points"),
    Metric("worst_test_drop", "Worst seed's test drop (points)", "test_drop", "points", worst=True),
    Metric("over_promise", "Runs whose test drop exceeds δ + 1.645 SE (%)", "over_promise", "percent",
           certified=True),
    Metric("certified_bound", "Certified drop bound, certification images (points)", "certified.bound", "points",
           certified=True),
    Metric("search_sparsity_global", "The search's own global sparsity (%)", "search.sparsity_global", "percent",
           certified=True),
    Metric("search_final_accuracy", "The search's own test accuracy (%)", "search.final_accuracy", "percent",
           certified=True),
    Metric("baseline_accuracy", "Unpruned test accuracy (%)", "baseline_accuracy", "percent"),
    Metric("sparsity_layer_mean", "Sparsity, layer mean (%)", "sparsity_layer_mean", "percent"),
    Metric("final_loss", "Test loss", "final_loss", "loss"),
    Metric("baseline_loss", "Unpruned test loss", "baseline_loss", "loss"),
    Metric("trade_off", "Trade-off score", "trade_off", "ratio"),
    Metric("evaluations", "Evaluations", "evaluations", "count"),
    Metric("images_per_evaluation", "Images per evaluation", "images_per_evaluation", "count"),
    Metric("seconds", "Search time (s)", "seconds", "seconds"),
    Metric("evaluations_per_second", "Evaluations per second", "evaluations_per_second", "rate"),
    Metric("seconds_per_evaluation", "Seconds per evaluation", "seconds_per_evaluation", "precise"),
    Metric("peak_memory_mib", "Peak memory of the run's process (MiB)", "peak_memory_mib", "count"),
)

# Per layer, from summary.json "layers"; accuracy and loss are the test figures after that layer's search.
LAYER_METRICS = (
    Metric("kernel_size", "Kernel size", "kernel_size", "count"),
    Metric("weights_kept", "Weights kept", "weights_kept", "count"),
    Metric("sparsity", "Sparsity (%)", "sparsity", "percent"),
    Metric("accuracy", "Accuracy after (%)", "accuracy", "percent"),
    Metric("loss", "Loss after", "loss", "loss"),
)

Table = dict[str, dict[str, Stat]]  # metric key -> variant -> Stat


def value(summary: dict, field: str) -> float:
    """A run's figure: a summary.json field (NaN when a run from an older evoprune lacks it), or the test drop
    (unpruned minus final test accuracy)."""
    if field == "test_drop":
        return summary["baseline_accuracy"] - summary["final_accuracy"]
    if field == "over_promise":  # 1 when the test drop breaks the promise beyond the test set's own noise
        c = summary.get("certified")
        if c is None:
            return math.nan
        return float(value(summary, "test_drop") > c["delta"] + 1.645 * c["test_drop_standard_error"])
    part, _, key = field.rpartition(".")
    return (summary.get(part) or {}).get(key, math.nan) if part else summary.get(field, math.nan)


def manifest(out: str) -> dict:
    """OUT/experiment.json (or a comparison's compare.json), or {} for runs gathered by hand."""
    for name in (MANIFEST, LEGACY_MANIFEST):
        path = os.path.join(out, name)
        if os.path.exists(path):
            return io.read_json(path)
    return {}


def planned(out: str) -> list[str] | None:
    """The run folders an experiment's spec names, in its order (variants, then seeds); None without a spec."""
    spec = manifest(out).get("spec")
    if spec is None:
        return None
    return [f"{v}-seed{s}" for v in spec["variants"] for s in spec["seeds"]]


def load_runs(out: str) -> list[Run]:
    """The finished runs of OUT: exactly those its spec names (those that finished), in the spec's order.

    A folder made before experiments had specs gives every OUT/runs/*/summary.json, by algorithm then seed.
    """
    names = planned(out)
    if names is None:
        names = sorted(os.path.basename(os.path.dirname(p))
                       for p in glob.glob(os.path.join(out, RUNS_DIR, "*", "summary.json")))
    runs = []
    for name in names:
        folder = os.path.join(out, RUNS_DIR, name)
        if os.path.exists(os.path.join(folder, "summary.json")):
            info_path = os.path.join(folder, "run.json")
            runs.append(Run(folder, io.read_json(os.path.join(folder, "summary.json")),
                            io.read_json(info_path) if os.path.exists(info_path) else {}))
    if planned(out) is None:
        order = list(dict.fromkeys(manifest(out).get("algorithms", [])))
        order += sorted({r.variant for r in runs} - set(order))
        runs.sort(key=lambda r: (order.index(r.variant), r.seed))
    return runs


def stat(values: Sequence[float], worst: bool = False, higher_is_worse: bool = True) -> Stat:
    """Statistics of the finite `values` over seeds (the worst of them with `worst`)."""
    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return Stat(math.nan, math.nan, 0)
    if worst:
        return Stat(float(a.max() if higher_is_worse else a.min()), math.nan, int(a.size))
    q1, median, q3 = (float(q) for q in np.percentile(a, [25, 50, 75]))
    return Stat(float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else math.nan, int(a.size), median, q1, q3)


def by_variant(runs: Sequence[Run]) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for r in runs:
        groups.setdefault(r.variant, []).append(r)
    return groups


def shown_metrics(runs: Sequence[Run]) -> list[Metric]:
    """METRICS, less the certification ones when no run was certified (their reports stay as they were) and those
    no run recorded (runs from an older evoprune lack the newer figures)."""
    certified = any("certified" in r.summary for r in runs)
    return [m for m in METRICS if (certified or not m.certified)
            and any(math.isfinite(value(r.summary, m.field)) for r in runs)]


def summary_table(runs: Sequence[Run]) -> Table:
    groups = by_variant(runs)
    return {m.key: {v: stat([value(r.summary, m.field) for r in rs], m.worst) for v, rs in groups.items()}
            for m in shown_metrics(runs)}


def layer_names(runs: Sequence[Run]) -> list[str]:
    return [layer["name"] for layer in runs[0].summary["layers"]]


def layer_table(runs: Sequence[Run]) -> dict[str, Table]:
    """layer -> metric key -> variant -> Stat, over the seeds of each variant."""
    groups = by_variant(runs)

    def values(rs, name, field):
        return [next(x[field] for x in r.summary["layers"] if x["name"] == name) for r in rs]

    return {name: {m.key: {v: stat(values(rs, name, m.field)) for v, rs in groups.items()} for m in LAYER_METRICS}
            for name in layer_names(runs)}


# ----- summary.csv -----
STAT_COLUMNS = ("mean", "std", "n", "median", "q1", "q3")


def write_csv(path: str, runs: Sequence[Run]) -> None:
    """One row per metric (per-layer ones as layer.<name>.<metric>), then each variant's statistics."""
    variants = list(by_variant(runs))
    rows = list(summary_table(runs).items())
    rows += [(f"layer.{name}.{key}", by_v) for name, t in layer_table(runs).items() for key, by_v in t.items()]
    io.write_csv(path, [{"metric": key, **{f"{v}_{c}": _cell(getattr(by_v[v], c)) for v in variants
                                           for c in STAT_COLUMNS}} for key, by_v in rows],
                 ["metric"] + [f"{v}_{c}" for v in variants for c in STAT_COLUMNS])


def _cell(x: float):
    return "" if isinstance(x, float) and math.isnan(x) else x


# ----- summary.md -----
def fmt(s: Stat, kind: str) -> str:
    """`mean ± std` as summary.md shows it (the mean alone for one seed or the worst seed)."""
    if s.n == 0:
        return "–"
    factor, f = FORMATS[kind]
    text = f.format(s.mean * factor)
    return text if math.isnan(s.std) else f"{text} ± {f.format(s.std * factor)}"


def markdown(out: str, runs: Sequence[Run], opening: Sequence[str] = ()) -> str:
    """summary.md: a title, `opening` (the verdict), the protocol, the figures per variant, then per layer."""
    variants = list(by_variant(runs))
    table = summary_table(runs)
    title = manifest(out).get("spec", {}).get("title") or f"Pruning experiment: {', '.join(variants)}"
    lines = [f"# {title}", "", *headline(out, runs), "", *opening, "", "## Protocol", "", *describe(out, runs), "",
             "## Figures per variant", "",
             "On the test set; mean ± sample standard deviation (ddof = 1) over seeds, the mean alone for a "
             "single seed. The test drop is the unpruned model's test accuracy minus the pruned one's, in "
             "points; the worst seed's is the largest. Global sparsity counts every prunable weight; the layer "
             "mean is the mean of the layers' sparsities (as the study reports it). Trade-off = layer-mean "
             "sparsity × final accuracy / baseline accuracy.", "", *_certification(runs),
             _row(["Metric", *variants]), _row(["---"] + ["---:"] * len(variants))]
    lines += [_row([m.label, *(fmt(table[m.key][v], m.kind) for v in variants)]) for m in shown_metrics(runs)]
    found = " (the search's own, before certification)" if any("certified" in r.summary for r in runs) else ""
    lines += ["", "## Per layer", "",
              f"Each layer's mask as searched{found}, and the test accuracy and loss of the model with the masks of "
              "this and the earlier layers applied.", ""]
    metrics = LAYER_METRICS[1:]  # the kernel size is the same for every run
    lines += [_row(["Layer", "Kernel size", "Variant", *(m.label for m in metrics)]),
              _row(["---", "---:", "---"] + ["---:"] * len(metrics))]
    for name, t in layer_table(runs).items():
        size = next(iter(t["kernel_size"].values()))
        lines += [_row([name, f"{size.mean:.0f}", v, *(fmt(t[m.key][v], m.kind) for m in metrics)])
                  for v in variants]
    return "\n".join(lines) + "\n"


# How the headline names the architectures and data sets evoprune trains and loads (others by their own name).
MODEL_NAMES = {"lenet5": "LeNet-5", "cnn1m": "the 1-million-weight CNN"}
DATA_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def headline(out: str, runs: Sequence[Run]) -> list[str]:
    """summary.md's opening in plain words: per variant, how much was pruned for how much test accuracy (means over
    seeds), on which images, and what the unpruned model scores on them."""
    groups = by_variant(runs)
    certified = {v: any("certified" in r.summary for r in rs) for v, rs in groups.items()}
    model = (manifest(out).get("baseline") or {}).get("model")
    model = f"{MODEL_NAMES.get(model, model)}'s" if model else "the model's"
    data = runs[0].info.get("data", {})
    test, name = data.get("sizes", {}).get("test"), DATA_NAMES.get(data.get("name"), data.get("name"))
    images = " ".join(x for x in (f"{test:,}" if test else "the", name, "test images") if x)
    search_set = data.get("search_set", runs[0].summary.get("eval_set", ""))
    seen = ("the searches themselves decided on (none held out)" if "test" in search_set.split("+")
            else "no search saw")
    clauses = []
    for i, (v, rs) in enumerate(groups.items()):
        sparsity = stat([r.summary["sparsity_global"] for r in rs]).mean * 100
        drops = [value(r.summary, "test_drop") * 100 for r in rs]
        drop = stat(drops).mean
        size = f"{'drop' if drop >= 0 else 'gain'} of {_points(abs(drop))}"
        worst = f" (worst seed {max(drops):.2f})" if len(drops) > 1 else ""
        tag = "certified" if certified[v] and (i == 0 or not all(certified.values())) else ""
        if i == 0:
            mean = "mean " if worst else ""
            clauses.append(f"{v} pruned {sparsity:.2f} % of {model} prunable weights (global sparsity"
                           f"{', ' + tag if tag else ''}) for a {mean}test-accuracy {size}{worst} on {images} {seen}")
        else:
            clauses.append(f"{v} pruned {sparsity:.2f} %{f' ({tag})' if tag else ''} for a {size}{worst}")
    counts = {len(rs) for rs in groups.values()}
    n = next(iter(counts))
    seeds = (("One seed" + (" each" if len(groups) > 1 else "") if n == 1 else
              f"Means over {n} seeds" + (" each" if len(groups) > 1 else ""))
             if len(counts) == 1 else "Means over " + ", ".join(f"{len(rs)} seeds ({v})" for v, rs in groups.items()))
    baselines = {r.summary["baseline_accuracy"] for r in runs}
    unpruned = f"; the unpruned model scores {next(iter(baselines)) * 100:.2f} % on them" if len(baselines) == 1 else ""
    text = f"{'; '.join(clauses)}. {seeds}{unpruned}."
    c = next((r.summary["certified"] for r in runs if "certified" in r.summary), None)
    if c is not None:
        text += (f" Certified: each answer's drop was shown to be at most {_points(c['delta'] * 100, 'g')} "
                 f"({c['confidence'] * 100:g} % confidence) on {c['images']:,} other images set aside for that.")
    return [text]


def _points(x: float, spec: str = ".2f") -> str:
    return f"{x:{spec}} point{'s' if round(x, 2) > 1 else ''}"


def _certification(runs: Sequence[Run]) -> list[str]:
    """How a certified experiment's figures are to be read (nothing when no run was certified)."""
    c = next((r.summary["certified"] for r in runs if "certified" in r.summary), None)
    if c is None:
        return []
    return [f"Certified: each run's answer is the sparsest of {len(c['candidates'])} nested candidate masks (the "
            f"search's own and denser ones) that passed, densest first until the first failure, the paired test "
            f"drop + 1.645 SE ≤ {c['delta'] * 100:g} point at {c['confidence']:g} on {c['images']:,} certification "
            "images no search decided on; sparsities, accuracies and drops above are the answer's, on test images "
            "apart from those. A run breaks the promise beyond the test set's own noise when its test drop "
            "exceeds δ + 1.645 SE, SE the paired standard error of that drop.", ""]


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def describe(out: str, runs: Sequence[Run]) -> list[str]:
    """The protocol as bullet points: data, model, baseline training, budget, preset, search set, seeds,
    each variant's settings and operators, and the commands that made the folder."""
    info = runs[0].info
    data = info.get("data", {})
    sizes = data.get("sizes", {})
    split = data.get("split", {})
    held = data.get("certification")
    certification = (f"; certification {held['images']:,} images drawn from the {held['from']} split with seed "
                     f"{held['seed']} and taken out of it" if held else "")
    lines = [f"- **Data**: {data.get('name', '?')} from `{data.get('source', '?')}` (train {sizes.get('train', '?')}, "
             f"validation {sizes.get('validation', '?')}, test {sizes.get('test', '?')} images{certification}; split "
             f"seed {split.get('seed', '?')}, validation fraction {split.get('val_fraction', '?')})",
             f"- **Model**: `{info.get('model', '?')}`"]
    record = manifest(out)
    training = (record.get("baseline") or {}).get("training")
    if training:
        lines.append(f"- **Baseline training**: {training['optimizer']}, learning rate {training['learning_rate']}, "
                     f"{training['epochs']} epochs, batch {training['batch_size']}, seed {training['seed']}")
    budgets = {r.variant: r.summary["budget"] for r in runs}
    budget = (f"{budgets[runs[0].variant]} evaluations per run" if len(set(budgets.values())) == 1 else
              ", ".join(f"{v}: {b}" for v, b in budgets.items()) + " evaluations per run")
    lines += [f"- **Budget**: {budget}; **preset**: {info.get('preset') or 'none'}; "
              f"**search set**: {data.get('search_set', runs[0].summary.get('eval_set', '?'))}",
              "- **Seeds**: " + "; ".join(f"{v}: {', '.join(str(r.seed) for r in rs)}"
                                             for v, rs in by_variant(runs).items())]
    lines += [f"- **{v}**: {text}" for v, text in _settings(runs).items()]
    commands = [s["command"] for s in record.get("sessions", []) if s.get("command")]
    commands = commands or list(dict.fromkeys(r.info["command"] for r in runs if r.info.get("command")))
    lines += [f"- **Command**: `{c}`" for c in dict.fromkeys(commands)]
    return lines


def _settings(runs: Sequence[Run]) -> dict[str, str]:
    """Per variant: its algorithm, the shared settings that differ from its preset's, all of its own, and its
    operator swaps (the seed, budget and search set are listed apart)."""
    skip = ("seed", "budget", "eval_set")
    known = shared_names()
    out = {}
    for v, rs in by_variant(runs).items():
        # Read as recorded (run.json keeps the shared settings in field order, then the algorithm's), not through
        # SearchConfig: a setting removed since still describes the run, unless at the value that kept its behaviour.
        recorded = rs[0].info.get("config", {})
        defaults = make_config(rs[0].info.get("preset")).shared()
        parts = [f"algorithm {rs[0].algorithm}"]
        parts += [f"{k}={x}" for k, x in recorded.items() if k not in skip and
                  (x != defaults[k] if k in known else x != REMOVED[k][0] if k in REMOVED else True)]
        operators = rs[0].info.get("plan", {}).get("operators", {})
        parts += [f"{a} = {o['function']}" + "".join(f", {k}={x}" for k, x in o.items() if k != "function")
                  for a, o in operators.items()]
        out[v] = ", ".join(parts)
    return out


def write_tables(out: str, runs: Sequence[Run], opening: Sequence[str] = ()) -> list[str]:
    """Write OUT/summary.md (opening with `opening`) and OUT/summary.csv; return their paths."""
    md, table = os.path.join(out, "summary.md"), os.path.join(out, "summary.csv")
    with open(md, "w") as f:
        f.write(markdown(out, runs, opening))
    write_csv(table, runs)
    return [md, table]
