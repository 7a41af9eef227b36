"""A run's folder: refuses another run's files, resumes from a checkpoint, keeps run.json, writes the final files."""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from ..errors import ConfigError
from . import checkpoint, io
from .history import HistoryWriter
from .manifest import now

FRONT_FILES = ("front.csv", "front_masks.npz")
RUN_FILES = ("history.csv", "summary.json", "run.json", "masks.npz", "pruned.keras", checkpoint.CHECKPOINT,
             "pruned.sparse.npz", "finetuned.keras", "finetuned.sparse.npz", *FRONT_FILES)


def check_out_path(out: str) -> None:
    """Refuse, before any work, an output path that is a file, or a folder that cannot be created or written."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ConfigError(f"--out {out}: that is a file, not a folder")
    probe = os.path.abspath(out)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise ConfigError(f"--out {out}: {probe} is a file, so the folder cannot be made")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: cannot write in {probe}")


def check_out(out: str, force: bool = False) -> list[str]:
    """The run files already in `out`; refuses a folder holding another run unless `force`."""
    existing = [f for f in RUN_FILES if os.path.exists(os.path.join(out, f))]
    if existing and not force:
        raise ConfigError(f"{out} already holds a run ({', '.join(existing)}); choose another --out or pass --force")
    return existing


class RunFolder:
    """The files of one run: history.csv as it goes, checkpoints, run.json, then masks, models and summary.

    A new folder refuses another run's files unless `force` (and then clears them); with
    `resume` it loads the last checkpoint and cuts history.csv back to the rows it knew of,
    so the resumed run continues exactly.
    """

    def __init__(self, out: str, *, force: bool = False, resume: bool = False, checkpoint_every: int = 25):
        self.out, self.checkpoint_every = out, checkpoint_every
        self.state, self.manifest = None, None
        if resume:
            if not os.path.exists(os.path.join(out, checkpoint.CHECKPOINT)):
                raise ConfigError(f"{out}: no checkpoint to resume from")
            self.state = checkpoint.load(out)
            checkpoint.truncate_history(self.path("history.csv"), self.state.history_rows)
            self.manifest = io.read_json(self.path("run.json"))
            self.manifest.setdefault("resumes", []).append(
                {"time": now(), "evaluations": self.state.evaluations, "unit": self.state.unit,
                 "history_rows": self.state.history_rows})
        else:
            for f in check_out(out, force):
                os.remove(os.path.join(out, f))
            os.makedirs(out, exist_ok=True)
        self.history = None

    def path(self, name: str) -> str:
        return os.path.join(self.out, name)

    def start(self, manifest: Mapping) -> list:
        """Write run.json (a resumed run keeps its own, with the resume noted) and return the callbacks that record
        the run: the history writer first, the checkpointer last (call `close` when the search ends)."""
        if self.manifest is None:
            self.manifest = dict(manifest)
        io.write_json(self.path("run.json"), self.manifest)
        self.history = HistoryWriter(self.path("history.csv"))
        return [self.history, checkpoint.Checkpointer(self.out, self.checkpoint_every)]

    def close(self) -> None:
        if self.history is not None:
            self.history.close()
            self.history = None

    def finish(self, masks: Mapping[str, np.ndarray], summary: Mapping, models: Mapping[str, object],
               events: list) -> None:
        """Write the final files (masks.npz, each `{name}.keras`, summary.json), note the end and the executor's
        events in run.json, and remove the checkpoint: a finished run has nothing to resume."""
        io.save_npz(self.path("masks.npz"), dict(masks))
        for name, model in models.items():
            io.save_keras(self.path(f"{name}.keras"), model)
        io.write_json(self.path("summary.json"), dict(summary))
        self.manifest.update(finished=now(), executor_events=self.manifest.get("executor_events", []) + events)
        io.write_json(self.path("run.json"), self.manifest)
        done = self.path(checkpoint.CHECKPOINT)
        if os.path.exists(done):
            os.remove(done)
