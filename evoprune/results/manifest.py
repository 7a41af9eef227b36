"""What a run records about where it ran: package versions, git commit, time stamps."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from importlib import metadata


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for name in ("evoprune", "deap", "tensorflow", "keras", "numpy", "multiprocess", "ray"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """The commit of the evoprune checkout the code runs from (with '+dirty' for local changes), if any."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def environment() -> dict:
    """Versions, commit, host and command line, for run.json and baseline.json."""
    return {"versions": package_versions(), "git_commit": git_commit(), "host": platform.node(),
            "command": " ".join(sys.argv)}
