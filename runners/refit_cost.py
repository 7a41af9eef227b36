"""The cost of the re-fit in the loop: seconds per evaluation of the default SA search, plain and re-fitting every mask.

    python runners/refit_cost.py --data ../shared/data/mnist/mnist-5k.npz [--budget 100] [--repeats 3] [--out DIR]

Both searches run side by side in this one process (same model, search images, seed and budget), one
after the other, --repeats times; the ratio of their median times is the figure to read. The model is the
experiments' default LeNet-5 from the baseline cache (trained there if it is not). Writes OUT/refit_cost.txt
(OUT: a temporary folder unless given).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="MNIST .npz (Keras layout) or IDX folder")
    p.add_argument("--budget", type=int, default=100, help="evaluations per search (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3, help="times each search runs, alternating (default 3)")
    p.add_argument("--moves", default="layer", help="the searches' --moves (default layer)")
    p.add_argument("--out", help="folder for refit_cost.txt (default: a new temporary folder)")
    args = p.parse_args(argv)

    from evoprune import Problem, make_config, search
    from evoprune.evaluation import registry
    from evoprune.experiments.baselines import model_and_data, search_data
    from evoprune.experiments.spec import DEFAULT_TRAINING, training_config
    from evoprune.network import models

    described, data = model_and_data(None, None, args.data, training_config(), DEFAULT_TRAINING["val_fraction"],
                                     progress=False, say=lambda line: None)
    model = models.load_model(described)
    x, y = search_data(data, "train+validation")
    lines = [f"model {described}; {len(y):,} search images; SA, --moves {args.moves}, {args.budget} evaluations, "
             f"seed {args.seed}"]
    times: dict[str, list[float]] = {"no": [], "loop": []}
    for repeat in range(args.repeats):
        # alternating, so a change in the machine's load between them touches both alike
        for refit in ("no", "loop"):
            problem = Problem(model, x, y, scoring="refit" if refit == "loop" else "incremental")
            result = search(problem, "sa", make_config(budget=args.budget, seed=args.seed, moves=args.moves,
                                                       refit=refit))
            registry.uninstall(problem.token)
            st = result.state
            times[refit].append(st.seconds / st.evaluations)
            report = problem.report(result.masks, data.x_test, data.y_test)  # the masks alone, before any re-fit
            lines.append(f"repeat {repeat}: refit {refit:<5} {times[refit][-1] * 1e3:8.0f} ms per evaluation; global "
                         f"sparsity {report['sparsity_global']:.2%} after {st.evaluations} evaluations")
    per_eval = {refit: statistics.median(t) for refit, t in times.items()}
    lines.append(f"median ms per evaluation: plain {per_eval['no'] * 1e3:.0f}, re-fit in the loop "
                 f"{per_eval['loop'] * 1e3:.0f}")
    lines.append(f"cost of the re-fit in the loop: {per_eval['loop'] / per_eval['no']:.1f} × a plain evaluation")
    print("\n".join(lines))
    folder = Path(args.out or tempfile.mkdtemp(prefix="evoprune-refit-cost-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "refit_cost.txt").write_text("\n".join(lines) + "\n")
    print(f"-> {folder / 'refit_cost.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
