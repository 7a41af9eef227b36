"""An exclusive lock on a folder while one process writes into it: a second writer is refused, not interleaved."""
from __future__ import annotations

import fcntl
import os

from ..errors import ConfigError


class FolderLock:
    """Holds an exclusive `flock` on `folder` (which must exist) until `release` or the end of a `with` block.

    The operating system drops the lock when the holding process dies, however it dies (SIGKILL included), so a
    killed run never leaves a stale lock behind; a second process asking while the first holds it gets a
    ConfigError at once. Two holders in one process conflict too (each lock is its own open of the folder).
    """

    def __init__(self, folder: str, what: str):
        self._fd: int | None = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            raise ConfigError(f"{folder}: another process is writing this {what} now; wait for it to end, or stop "
                              "it, then run again (finished runs are reused, interrupted ones resumed)") from None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor of this open drops its lock
            self._fd = None

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
