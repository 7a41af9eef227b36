"""Golden runs: small searches (budget 200, the 5k file) whose outputs must stay bit-identical across refactors."""
from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from evoprune.pruned.report import MACHINE_KEYS

HERE = Path(__file__).resolve().parent
BUDGET = 200

# Every search path that must not change: the study preset, the default whole-model search,
# one layer at a time, NSGA-II and each one-shot rule (`evoprune prune` flags beyond the shared ones).
CASES: dict[str, list[str]] = {
    "study-sa": ["--preset", "study", "--algorithm", "sa"],
    "study-ga": ["--preset", "study", "--algorithm", "ga"],
    "model-sa": ["--algorithm", "sa"],
    "model-ga": ["--algorithm", "ga"],
    "layers-sa": ["--algorithm", "sa", "--scope", "layers"],
    "layers-ga": ["--algorithm", "ga", "--scope", "layers"],
    "nsga2": ["--algorithm", "nsga2"],
    "magnitude": ["--algorithm", "magnitude", "--sparsity", "0.6"],
    "magnitude-layer": ["--algorithm", "magnitude-layer", "--sparsity", "0.6"],
    "saliency": ["--algorithm", "saliency", "--sparsity", "0.6"],
    "reconstruction": ["--algorithm", "reconstruction", "--sparsity", "0.6"],
    "random": ["--algorithm", "random", "--sparsity", "0.6"],
}

# Timings, memory and file sizes measure the machine, not the search.
_UNTIMED = MACHINE_KEYS


def machine() -> dict:
    """What float results depend on: the CPU (vendor, model, vector extensions) and the TensorFlow build."""
    from evoprune._tf import import_tensorflow
    from evoprune.results.manifest import cpu

    tf = import_tensorflow()
    return {"cpu": cpu(), "tensorflow": tf.__version__, "tf_compiler": tf.version.COMPILER_VERSION,
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "")}


def base_model(data: str) -> str:
    """The golden runs' LeNet-5, trained at run time by the experiments' default recipe (Adam 0.005, 100 epochs,
    seed 0; bit-reproducible on one machine), or reused from the baseline cache: its .keras path."""
    from evoprune.experiments.baselines import model_and_data
    from evoprune.experiments.spec import DEFAULT_TRAINING, training_config

    path, _ = model_and_data(None, None, data, training_config(), DEFAULT_TRAINING["val_fraction"], progress=False,
                             say=lambda line: None)
    return str(path)


def run_case(name: str, data: str, out: str) -> dict:
    """Run case `name` with `evoprune prune` (in this process) into `out`; its outputs as comparable data."""
    from evoprune.cli import main

    args = ["prune", "--model", base_model(data), "--data", data, "--budget", str(BUDGET), "--seed", "0",
            "--out", out, "--no-progress", "--no-certify", *CASES[name]]
    assert main(args) == 0, f"golden case {name} failed"
    return outputs(out)


def outputs(out: str) -> dict:
    """A run folder's results: history rows and front rows (as written), summary figures, mask digests."""
    def rows(path: str) -> list[dict]:
        with open(path, newline="") as f:
            return [{k: v for k, v in r.items() if k not in _UNTIMED} for r in csv.DictReader(f)]

    with open(os.path.join(out, "summary.json")) as f:
        summary = {k: v for k, v in json.load(f).items() if k not in _UNTIMED}
    with np.load(os.path.join(out, "masks.npz")) as z:
        masks = {k: hashlib.sha256(np.packbits(z[k].reshape(-1)).tobytes()).hexdigest() for k in sorted(z.files)}
    front = os.path.join(out, "front.csv")
    return {"history": rows(os.path.join(out, "history.csv")), "summary": summary, "masks": masks,
            "front": rows(front) if os.path.exists(front) else None}


def differences(expected, got, where: str = "") -> list[str]:
    """Where `got` differs from `expected`; keys and columns `expected` lacks are additions, not differences."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return [d for k in expected for d in (differences(expected[k], got[k], f"{where}.{k}") if k in got
                                              else [f"{where}.{k}: missing"])]
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return [f"{where}: {len(expected)} entries expected, {len(got)} found"]
        return [d for i, (e, g) in enumerate(zip(expected, got)) for d in differences(e, g, f"{where}[{i}]")]
    return [] if expected == got else [f"{where}: expected {expected!r}, got {got!r}"]
