"""Progress bars that redraw often on a terminal and rarely otherwise, so a redirected log stays small."""
from __future__ import annotations

import sys

# Off a terminal every redraw is a line in the log: at most one each half-minute.
QUIET_INTERVAL = 30.0


def bar(**kwargs):
    """A tqdm bar (same arguments); on a non-terminal stderr it redraws at most every QUIET_INTERVAL seconds."""
    from tqdm.auto import tqdm

    if not sys.stderr.isatty():
        kwargs.setdefault("mininterval", QUIET_INTERVAL)
        kwargs.setdefault("maxinterval", QUIET_INTERVAL)
    return tqdm(**kwargs)
