"""A run's folder: refuses another run's files, resumes from a checkpoint, keeps run.json, writes the final files."""
from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from . import checkpoint, io
from .history import HistoryWriter
from .manifest import now

FRONT_FILES = ("front.csv", "front_masks.npz")
SEARCH_MASKS = "search_masks.npz"  # a certified run's search's own masks (masks.npz holds its certified answer)
RUN_FILES = ("history.csv", "summary.json", "run.json", "masks.npz", SEARCH_MASKS, "pruned.keras",
             checkpoint.CHECKPOINT, checkpoint.PREVIOUS, "pruned.sparse.npz", "finetuned.keras", "finetuned.sparse.npz",
             *FRONT_FILES)


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

    A new folder refuses another run's files unless `force` (and then clears them). With
    `resume` it loads the latest readable checkpoint and cuts history.csv back to the rows that
    checkpoint knew of, so the resumed run continues exactly; a run with a run.json but no
    checkpoint yet (killed early) starts again from the beginning, and says so.
    """

    def __init__(self, out: str, *, force: bool = False, resume: bool = False,
                 checkpoint_every: int = checkpoint.EVERY, checkpoint_seconds: float = checkpoint.SECONDS,
                 say: Callable[[str], None] = checkpoint.warn):
        self.out, self.every, self.seconds, self.say = out, checkpoint_every, checkpoint_seconds, say
        self.state, self.manifest, self.history = None, None, None
        if resume:
            if not os.path.exists(self.path("run.json")):
                raise ConfigError(f"{out}: no run to resume (no run.json)")
            self.manifest = io.read_json(self.path("run.json"))
            self.state = checkpoint.load(out, say)
            if self.state is None:
                say(f"{out}: no checkpoint yet: starting the run from the beginning")
                for f in RUN_FILES:
                    if f != "run.json" and os.path.exists(self.path(f)):
                        os.remove(self.path(f))
            else:
                checkpoint.truncate_history(self.path("history.csv"), self.state.history_rows)
                # the evaluations of the step under way are in the checkpoint too: replayed, not made again
                say(f"{out}: resumed at evaluation {self.state.evaluations + len(self.state.replay)}")
            self.manifest.setdefault("resumes", []).append(
                {"time": now(), "evaluations": self.state.evaluations if self.state else 0,
                 "unit": self.state.unit if self.state else 0,
                 "history_rows": self.state.history_rows if self.state else 0})
        else:
            for f in check_out(out, force):
                os.remove(os.path.join(out, f))
            os.makedirs(out, exist_ok=True)

    def path(self, name: str) -> str:
        return os.path.join(self.out, name)

    def start(self, manifest: Mapping, history_fields: Sequence[str] | None = None) -> list:
        """Write run.json (a resumed run keeps its own, with the resume noted) and return the callbacks that record
        the run: the history writer first, the checkpointer last (call `close` when the search ends).
        `history_fields` are history.csv's columns when they are not a search's (e.g. `evoprune gradual`'s epochs)."""
        if self.manifest is None:
            self.manifest = dict(manifest)
        io.write_json(self.path("run.json"), self.manifest)
        self.history = (HistoryWriter(self.path("history.csv")) if history_fields is None
                        else HistoryWriter(self.path("history.csv"), history_fields))
        resumed_at = self.state.evaluations if self.state is not None else None
        return [self.history, checkpoint.Checkpointer(self.out, self.every, self.seconds, self.say, resumed_at)]

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
        checkpoint.remove(self.out)
