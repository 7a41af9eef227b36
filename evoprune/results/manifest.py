"""What a run records about where it ran: package versions, git commit, time stamps."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import shlex
import subprocess
import sys
from importlib import metadata


def package_versions(exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of Python and of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for name in ("evoprune", "deap", "tensorflow", "keras", "numpy", "multiprocess", "ray"):
        if name in exclude:
            continue
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


def cpu() -> dict:
    """The CPU type float results depend on: architecture, vendor, model name, vector extensions."""
    info = {"machine": platform.machine(), "vendor": "", "model": "", "isa": []}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        info["vendor"] = re.search(r"^vendor_id\s*:\s*(.*)$", text, re.M).group(1).strip()
        info["model"] = re.search(r"^model name\s*:\s*(.*)$", text, re.M).group(1).strip()
        flags = re.search(r"^flags\s*:\s*(.*)$", text, re.M).group(1).split()
        info["isa"] = sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "f16c")))
    except (OSError, AttributeError):
        pass
    return info


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


_COMMAND: list[str] | None = None


def set_command(argv: list[str]) -> None:
    """Record `argv` as the command this process runs (the CLI sets it; else sys.argv is recorded)."""
    global _COMMAND
    _COMMAND = list(argv)


def command_line() -> str:
    """The command this process runs, as a shell takes it."""
    return shlex.join(_COMMAND if _COMMAND is not None else sys.argv)


def environment() -> dict:
    """Versions, commit, host and command line, for run.json and baseline.json."""
    return {"versions": package_versions(), "git_commit": git_commit(), "host": platform.node(),
            "command": command_line()}
