"""The history CSV: one row per search step or generation, appended and flushed as the run goes."""
from __future__ import annotations

import csv
import os
from typing import Sequence

from ..search.loop import Callback


class HistoryWriter(Callback):
    """Appends every row a search emits to `path` and flushes it, so a crash loses nothing written.

    Its columns are `fields`, or by default the search's (`Search.history_fields`: the shared ones and
    its algorithm's own), taken when the search first calls it.
    """

    def __init__(self, path: str, fields: Sequence[str] | None = None):
        self._new = not os.path.exists(path) or os.path.getsize(path) == 0
        self._file = open(path, "a", newline="")
        self._writer = None
        if fields is not None:
            self._start(fields)

    def _start(self, fields: Sequence[str]) -> None:
        self._writer = csv.DictWriter(self._file, fieldnames=list(fields))
        if self._new:
            self._writer.writeheader()
            self._file.flush()

    def on_unit_start(self, search) -> None:
        if self._writer is None:
            self._start(search.history_fields)

    def on_row(self, search, row: dict) -> None:
        if self._writer is None:
            self._start(search.history_fields)
        self._writer.writerow({k: _fmt(v) for k, v in row.items()})
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _fmt(v):
    return f"{v:.10g}" if isinstance(v, float) else v


def read_history(path: str) -> list[dict]:
    """The rows of a history CSV as dicts of strings."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
