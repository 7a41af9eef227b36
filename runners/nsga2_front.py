"""NSGA-II fronts against one-shot pruning, then fine-tuning front points beside magnitude pruning at their sparsity.

    python runners/nsga2_front.py --model base5k/model.keras --data mnist-5k.npz --out results/nsga2-5k

runs NSGA-II once per importance in --searches (the importance guiding its initial population and
moves), each into OUT/run-<importance>/ (the `evoprune prune --algorithm nsga2` files: front.csv,
front_masks.npz, ...), and writes OUT/curves.csv (magnitude, saliency and reconstruction pruning,
30-90 % global sparsity, test set), OUT/front.png, OUT/front.md (where each front beats the curves on
test), and OUT/finetune.json and OUT/finetune.md: for each target sparsity and each search, the front
point chosen on VALIDATION (the most accurate one at least that sparse) and the magnitude mask at
exactly its sparsity, both fine-tuned the same way (Adam 1e-3, batch 128, --epochs, last epoch kept).
Every decision is made on validation; test figures are computed afterwards, for reporting only.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

KINDS = ("magnitude", "saliency", "reconstruction")


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", help="the .npz the model was trained on (default: the one in baseline.json)")
    p.add_argument("--out", required=True)
    p.add_argument("--budget", type=int, default=1000)
    p.add_argument("--population", type=int, default=40)
    p.add_argument("--rate0", type=float, default=0.05)
    p.add_argument("--searches", default="reconstruction,magnitude",
                   help="one NSGA-II run per importance guiding it (comma-separated)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, help="fine-tuning epochs (default: evoprune.finetune.FINETUNE_EPOCHS)")
    p.add_argument("--targets", default="0.90,0.92", help="global sparsities to fine-tune at")
    p.add_argument("--force", action="store_true")
    return p.parse_args(argv)


def pick(rows: list[dict], target: float) -> int:
    """The front point fine-tuning starts from: the most accurate on VALIDATION of those at least `target` sparse."""
    candidates = [i for i, r in enumerate(rows) if r["sparsity_global"] >= target]
    return max(candidates, key=lambda i: (rows[i]["search_accuracy"], -rows[i]["sparsity_global"]))


def run_searches(args, model, data, scores) -> tuple[dict, float]:
    """One NSGA-II run per importance in --searches: {importance: (front rows, front masks)}, unpruned test accuracy."""
    from evoprune.api import Folder, Hooks, Images, prune
    from evoprune.experiments.baselines import search_data
    from evoprune.search.config import make_config
    from evoprune.pruned.front import read_front

    fronts = {}
    for kind in args.searches.split(","):
        # confidence 0.5: the reported front point is the sparsest whose measured drop is ≤ delta, as
        # when the committed results/nsga2-mnist5k were made.
        config = make_config(None, budget=args.budget, population=args.population, rate0=args.rate0,
                             importance=kind, seed=args.seed, eval_set="validation", confidence=0.5)
        run_dir = os.path.join(args.out, f"run-{kind}")
        # The images follow the recorded eval_set, so run.json cannot name other data than was searched.
        images = Images(search_data(data, config.eval_set), (data.x_test, data.y_test), (data.x_train, data.y_train))
        result = prune(model, images, "nsga2", config, scores=scores[kind], hooks=Hooks(progress=False),
                       folder=Folder(run_dir, force=args.force, record={"model": os.path.abspath(args.model),
                                                                        "runner": "runners/nsga2_front.py"}))
        fronts[kind] = read_front(run_dir)
    return fronts, result.summary["baseline_accuracy"]


def label(kind: str) -> str:
    return f"NSGA-II, {kind}-guided"


def front_report(args, fronts: dict, curves: dict, base_acc: float) -> list[str]:
    """front.md: each front's best test accuracy at least as sparse as each curve point; where it beats the curves."""
    from evoprune.pruned.front import dominated

    grid = [c["sparsity"] for c in curves[KINDS[0]]]
    lines = ["| global sparsity | " + " | ".join(f"{label(k)}: best front point at least as sparse (test %)"
                                                for k in fronts) + " | " +
             " | ".join(f"{k} (test %)" for k in KINDS) + " |", "|---|" + "---|" * (len(fronts) + len(KINDS))]
    for i, s in enumerate(grid):
        best = [max((r["test_accuracy"] for r in rows if r["sparsity_global"] >= s - 1e-12), default=float("nan"))
                for rows, _ in fronts.values()]
        lines.append(f"| {s:.2f} | " + " | ".join(f"{b * 100:.2f}" for b in best) + " | " +
                     " | ".join(f"{curves[k][i]['test_accuracy'] * 100:.2f}" for k in KINDS) + " |")
    lines += ["", f"Unpruned test accuracy {base_acc * 100:.2f} %. Between 50 % and 80 % global sparsity, a front "
              "point at least as sparse is strictly more accurate on test than:"]
    for k, (rows, _) in fronts.items():
        for c in KINDS:
            beaten = [p["sparsity"] for p in dominated(rows, curves[c]) if 0.5 - 1e-9 <= p["sparsity"] <= 0.8 + 1e-9]
            lines.append(f"- {label(k)} front vs {c}: at {', '.join(f'{s:.2f}' for s in beaten) or 'no sparsity'}")
    with open(os.path.join(args.out, "front.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return lines


def finetune_experiments(args, model, data, fronts: dict, magnitude_scores, base_acc: float) -> list[str]:
    """finetune.json and finetune.md: each search's front point at each target beside magnitude at its sparsity."""
    from evoprune.pruned.finetune import FINETUNE_DEFAULTS, FINETUNE_EPOCHS, finetune_report
    from evoprune.problem.importance import global_threshold_masks
    from evoprune.results import io

    epochs = args.epochs or FINETUNE_EPOCHS
    experiments = []
    for target in (float(t) for t in args.targets.split(",")):
        for kind, (rows, front_masks) in fronts.items():
            k = pick(rows, target)
            s = rows[k]["sparsity_global"]
            for name, masks, val_acc in ((f"{label(kind)} front point {k}", front_masks[k], rows[k]["search_accuracy"]),
                                         ("magnitude at the same sparsity", global_threshold_masks(magnitude_scores, s),
                                          None)):
                _, report = finetune_report(model, masks, data.x_train, data.y_train, data.x_test, data.y_test,
                                            epochs, (data.x_val, data.y_val))
                experiments.append({"target": target, "mask": name, "val_accuracy_before": val_acc, **report})
                print(f"{target:.2f} {name}: sparsity {report['sparsity_global']:.4f}, test "
                      f"{report['test_accuracy_before']:.4f} -> {report['test_accuracy_after']:.4f}", flush=True)
    io.write_json(os.path.join(args.out, "finetune.json"),
                  {"baseline_test_accuracy": base_acc, "epochs": epochs, "settings": FINETUNE_DEFAULTS,
                   "experiments": experiments})
    table = [f"Fine-tuning: {epochs} epochs on the {len(data.y_train)} training images, Adam "
             f"{FINETUNE_DEFAULTS['learning_rate']}, batch {FINETUNE_DEFAULTS['batch_size']}, last epoch kept; "
             f"pruned weights held at zero. Unpruned test accuracy {base_acc * 100:.2f} %.", "",
             "| target | mask | global sparsity | val. acc. after (%) | test acc. before (%) | test acc. after (%) "
             "| after − unpruned (points) |", "|---|---|---|---|---|---|---|"]
    table += [f"| {e['target']:.2f} | {e['mask']} | {e['sparsity_global'] * 100:.2f} % | "
              f"{e['val_accuracy_last_epoch'] * 100:.2f} | "
              f"{e['test_accuracy_before'] * 100:.2f} | {e['test_accuracy_after'] * 100:.2f} | "
              f"{(e['test_accuracy_after'] - base_acc) * 100:+.2f} |" for e in experiments]
    with open(os.path.join(args.out, "finetune.md"), "w") as f:
        f.write("\n".join(table) + "\n")
    return table


def main(argv=None) -> int:
    args = parse(argv)
    from evoprune.network import models
    from evoprune.problem import importance
    from evoprune.experiments.baselines import data_for, read_baseline
    from evoprune.experiments.curves import curve
    from evoprune.pruned.front import front_figure
    from evoprune.results import io

    os.makedirs(args.out, exist_ok=True)
    data = data_for(read_baseline(args.model), None, args.data)
    model = models.load_model(args.model)
    specs = models.prunable_layers(model)
    scores = {k: importance.compute(k, model, specs, data.x_train, data.y_train) for k in KINDS}
    fronts, base_acc = run_searches(args, model, data, scores)

    curves = {k: curve(model, data, k, np.round(np.arange(0.30, 0.901, 0.05), 2), scores[k]) for k in KINDS}
    io.write_csv(os.path.join(args.out, "curves.csv"), [r for k in KINDS for r in curves[k]])
    front_figure({label(k): rows for k, (rows, _) in fronts.items()}, curves, base_acc,
                 title=f"NSGA-II fronts ({args.budget} evaluations each, found on validation) against one-shot "
                       "pruning, all on the test set").savefig(os.path.join(args.out, "front.png"), dpi=130)
    lines = front_report(args, fronts, curves, base_acc)
    table = finetune_experiments(args, model, data, fronts, scores["magnitude"], base_acc)
    print("\n".join(lines + [""] + table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
