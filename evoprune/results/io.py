"""Atomic file writes: a reader (or a crash) never sees a half-written JSON, CSV, .npz or .keras file."""
from __future__ import annotations

import csv
import json
import os
from typing import Any, Mapping, Sequence

import numpy as np


def _replace(tmp: str, path: str) -> None:
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: str, data: Any) -> None:
    """Write `data` as indented JSON to `path` through a temporary file and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=_json_default)
        f.write("\n")
    _replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_csv(path: str, rows: Sequence[Mapping[str, Any]], fields: Sequence[str] | None = None) -> None:
    """Write `rows` as CSV with a header (`fields`, default the first row's keys) through a temporary file."""
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fields or rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _replace(tmp, path)


def read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def save_npz(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays to `path` atomically (the temporary name keeps `.npz`, or numpy would add it)."""
    tmp = path[: -len(".npz")] + ".tmp.npz" if path.endswith(".npz") else path + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    _replace(tmp, path)


def save_keras(path: str, model) -> None:
    """Save a Keras model atomically (Keras refuses a name without the `.keras` ending)."""
    base = path[: -len(".keras")] if path.endswith(".keras") else path
    tmp = base + ".tmp.keras"
    model.save(tmp)
    _replace(tmp, path)
