"""Print README.md's table from the run files (summary.json for gradual, finetune.json for one-shot)."""
import json
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
UNPRUNED = 0.9657  # the model's test accuracy (baseline.json: 0.96569997)


def row(method, s, seed):
    folder = os.path.join(HERE, f"{method}-s{s}-seed{seed}")
    if method == "gradual":
        j = json.load(open(os.path.join(folder, "summary.json")))
        return j["sparsity_global"], j["final_accuracy"], j["val_accuracy_last_epoch"], j["baseline_accuracy"]
    f = json.load(open(os.path.join(folder, "finetune.json")))
    j = json.load(open(os.path.join(folder, "summary.json")))
    return f["sparsity_global"], f["test_accuracy_after"], f["val_accuracy_last_epoch"], j["baseline_accuracy"]


print("| method | target sparsity | seed | global sparsity | val. accuracy (last epoch) | test accuracy | drop (points) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for s in (94, 96):
    for method in ("gradual", "oneshot"):
        drops, accs = [], []
        for seed in (0, 1, 2):
            try:
                sp, acc, val, base = row(method, s, seed)
            except FileNotFoundError:
                continue
            drop = (base - acc) * 100
            drops.append(drop), accs.append(acc)
            print(f"| {method} | {s} % | {seed} | {sp * 100:.2f} % | {val * 100:.2f} % | {acc * 100:.2f} % | {drop:.2f} |")
        if drops:
            print(f"| **{method}, mean** | {s} % | {len(drops)} seeds | | | {statistics.mean(accs) * 100:.2f} % | "
                  f"{statistics.mean(drops):.2f} (worst {max(drops):.2f}) |")
