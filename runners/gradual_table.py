"""Print the table of a gradual-pruning results folder: gradual against one-shot magnitude + the same fine-tuning.

    python runners/gradual_table.py results/gradual-mnist5k --sparsities 94 96

Reads FOLDER/gradual-sS-seedN/summary.json (and FOLDER/gradual-search-sS-seedN/summary.json, gradual pruning with
--rule search, with --methods gradual,gradual-search,oneshot) and FOLDER/oneshot-sS-seedN/{summary,finetune}.json
(the one-shot summary.json is the magnitude pruning before fine-tuning, finetune.json the fine-tuned model).
"""
import argparse
import json
import os
import statistics


def row(folder: str, method: str, s: int, seed: int) -> tuple:
    """(global sparsity, test accuracy, last-epoch validation accuracy, unpruned test accuracy) of one run."""
    run = os.path.join(folder, f"{method}-s{s}-seed{seed}")
    j = json.load(open(os.path.join(run, "summary.json")))
    if method.startswith("gradual"):
        return j["sparsity_global"], j["final_accuracy"], j["val_accuracy_last_epoch"], j["baseline_accuracy"]
    f = json.load(open(os.path.join(run, "finetune.json")))
    return f["sparsity_global"], f["test_accuracy_after"], f["val_accuracy_last_epoch"], j["baseline_accuracy"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder")
    p.add_argument("--sparsities", type=int, nargs="+", default=[94, 96], help="target sparsities in percent")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--methods", type=lambda text: text.split(","), default=["gradual", "oneshot"],
                   help="comma-separated run-folder prefixes (default gradual,oneshot)")
    args = p.parse_args(argv)
    print("| method | target sparsity | seed | global sparsity | val. accuracy (last epoch) | test accuracy "
          "| drop (points) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in args.sparsities:
        for method in args.methods:
            drops, accs = [], []
            for seed in range(args.seeds):
                try:
                    sp, acc, val, base = row(args.folder, method, s, seed)
                except FileNotFoundError:
                    continue
                drop = (base - acc) * 100
                drops.append(drop), accs.append(acc)
                print(f"| {method} | {s} % | {seed} | {sp * 100:.2f} % | {val * 100:.2f} % | {acc * 100:.2f} % "
                      f"| {drop:.2f} |")
            if drops:
                print(f"| **{method}, mean** | {s} % | {len(drops)} seeds | | | {statistics.mean(accs) * 100:.2f} % | "
                      f"{statistics.mean(drops):.2f} (worst {max(drops):.2f}) |")


if __name__ == "__main__":
    main()
