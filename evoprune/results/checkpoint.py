"""Checkpoints by work done: the search saved atomically every N evaluations or T seconds, the last two kept."""
from __future__ import annotations

import os
import pickle
import sys
import time
from typing import Callable

from .. import _faults
from ..search.loop import Callback, Search

CHECKPOINT, PREVIOUS = "checkpoint.pkl", "checkpoint.prev.pkl"
EVERY, SECONDS = 25, 60.0


def warn(message: str) -> None:
    """One line on stderr, as the command line's own messages."""
    print(f"evoprune: {message}", file=sys.stderr, flush=True)


class Checkpointer(Callback):
    """Saves the search once `every` evaluations or `seconds` seconds have passed since the last save, mid-step
    included, and after every genome: whatever kills the run, at most that much work is lost.

    A snapshot holds every random generator, the counters, the evaluation cache, the history rows
    written and the evaluations of the step under way (`Search.snapshot`). It is written to a
    temporary file, synced, and renamed over checkpoint.pkl, whose previous version becomes
    checkpoint.prev.pkl. A write that fails (a full disk) leaves both as they were: the run says
    so and goes on.
    """

    def __init__(self, folder: str, every: int = EVERY, seconds: float = SECONDS, say: Callable[[str], None] = warn,
                 resumed_at: int | None = None):
        """`resumed_at`: the evaluations of the checkpoint a resumed run started from (None for a new run)."""
        self.path, self.previous = os.path.join(folder, CHECKPOINT), os.path.join(folder, PREVIOUS)
        self.every, self.seconds, self.say = every, seconds, say
        self.saved = self.attempts = 0
        self._evaluations, self._time, self._kept = resumed_at or 0, time.monotonic(), resumed_at

    def on_evaluations(self, search: Search) -> None:
        done = search.state.evaluations
        if (self.every and done - self._evaluations >= self.every) or time.monotonic() - self._time >= self.seconds:
            self.save(search)

    def on_unit_end(self, search: Search, entry: dict) -> None:
        self.save(search)

    def save(self, search: Search) -> None:
        self.attempts += 1
        self._evaluations, self._time = search.state.evaluations, time.monotonic()
        tmp = self.path + ".tmp"
        try:
            _faults.checkpoint_write(self.attempts)  # tests make the disk full here
            with open(tmp, "wb") as f:
                f.write(search.snapshot())
                f.flush()
                os.fsync(f.fileno())
            if os.path.exists(self.path):
                os.replace(self.path, self.previous)
            os.replace(tmp, self.path)
        except OSError as e:
            if os.path.exists(tmp):
                os.remove(tmp)
            kept = f"the last one ({self._kept} evaluations) is kept" if self._kept is not None else "none was written yet"
            self.say(f"could not write a checkpoint in {os.path.dirname(self.path)} ({e.strerror or e}); {kept}")
            return
        self._kept = search.state.evaluations
        self.saved += 1


def load(folder: str, say: Callable[[str], None] = warn):
    """The state in `folder`'s latest readable checkpoint, or None if there is none.

    An unreadable checkpoint (truncated, corrupted) is named in one line, and the previous one is used.
    """
    for name, fallback in ((CHECKPOINT, "the previous checkpoint"), (PREVIOUS, "the beginning")):
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            continue
        try:
            with open(path, "rb") as f:
                return Search.restore(f.read())
        except (pickle.UnpicklingError, EOFError, ValueError, KeyError, AttributeError, TypeError, IndexError,
                OSError) as e:
            say(f"{path} is unreadable ({type(e).__name__}); resuming from {fallback}")
    return None


def remove(folder: str) -> None:
    """Remove a run's checkpoints: a finished run has nothing to resume."""
    for name in (CHECKPOINT, PREVIOUS, CHECKPOINT + ".tmp"):
        if os.path.exists(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))


def truncate_history(path: str, rows: int) -> None:
    """Cut a history CSV back to its header and first `rows` rows (those the checkpoint knew of)."""
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    with open(path, "wb") as f:
        f.writelines(lines[: rows + 1])
        f.flush()
        os.fsync(f.fileno())
