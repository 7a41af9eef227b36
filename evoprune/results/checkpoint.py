"""Checkpoints: the whole search state saved atomically, so a killed run resumes exactly."""
from __future__ import annotations

import os
import pickle

from ..search.loop import Callback

CHECKPOINT = "checkpoint.pkl"


class Checkpointer(Callback):
    """A search callback saving the state after every genome and every `every` steps (0: after genomes only).

    The state holds every random generator (Python's `random` included), the counters, the
    evaluation cache and how many history rows were written, so a resume continues the run
    exactly where the checkpoint left it.
    """

    def __init__(self, folder: str, every: int = 25):
        self.path = os.path.join(folder, CHECKPOINT)
        self.every = every
        self.saved = 0

    def on_step_end(self, search) -> None:
        if self.every and search.state.step % self.every == 0:
            self.save(search)

    def on_unit_end(self, search, entry: dict) -> None:
        self.save(search)

    def save(self, search) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(search.snapshot())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.saved += 1


def load(folder: str):
    """The search state saved in `folder`'s checkpoint."""
    with open(os.path.join(folder, CHECKPOINT), "rb") as f:
        return pickle.load(f)


def truncate_history(path: str, rows: int) -> None:
    """Cut a history CSV back to its header and first `rows` rows (those the checkpoint knew of)."""
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    with open(path, "wb") as f:
        f.writelines(lines[: rows + 1])
        f.flush()
        os.fsync(f.fileno())
