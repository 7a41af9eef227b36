"""An experiment's report from its files alone (no TensorFlow, no search): the verdict, the tables, the figures."""
from __future__ import annotations

from ..errors import ConfigError
from ..results import aggregate, plots
from . import verdict

# The study reports layer-mean sparsity; for its preset the verdict weighs that too.
LAYER_MEAN = verdict.Metric("sparsity_layer_mean", "layer-mean sparsity", "higher", "sparser (layer mean) than",
                            "sparsest (layer mean)", 100.0, "%")


def samples(runs) -> dict:
    """variant -> seed -> the figures the verdict weighs (test accuracy and drop, both sparsities)."""
    out: dict = {}
    for r in runs:
        s = r.summary
        out.setdefault(r.variant, {})[r.seed] = {
            "sparsity_global": s["sparsity_global"], "sparsity_layer_mean": s["sparsity_layer_mean"],
            "test_accuracy": s["final_accuracy"], "test_drop": aggregate.value(s, "test_drop")}
    return out


def report(out: str) -> list[str]:
    """Write OUT/summary.md (opening with the verdict), summary.csv and the figures; return their paths."""
    paths, runs = _tables(out)
    return paths + plots.write_figures(out, runs)


def tables(out: str) -> list[str]:
    """Write OUT/summary.md and summary.csv alone (what `report` writes but the figures); return their paths."""
    return _tables(out)[0]


def _tables(out: str) -> tuple[list[str], list]:
    runs = aggregate.load_runs(out)
    if not runs:
        raise ConfigError(f"{out}: no finished runs (no {aggregate.RUNS_DIR}/*/summary.json)")
    study = any(r.info.get("preset") == "study" for r in runs)
    metrics = verdict.DEFAULT_METRICS + ((LAYER_MEAN,) if study else ())
    opening = verdict.markdown(verdict.verdict(samples(runs), metrics))
    return aggregate.write_tables(out, runs, opening), runs
