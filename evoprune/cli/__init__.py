"""The `evoprune` command line: one module per subcommand, each a thin layer over the library."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .. import __version__
from ..errors import EvopruneError

# Each module has `add_parser(subparsers)`, which registers its `run(args) -> int`.
COMMANDS = ("train", "prune", "finetune", "gradual", "evaluate", "compare", "experiment", "plot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evoprune", description="Prune neural networks by searching their weight masks with metaheuristics.")
    parser.add_argument("--version", action="version", version=f"evoprune {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f".{name}", __name__).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors become one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    from ..results.manifest import set_command

    set_command(["evoprune", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.run(args)
    except EvopruneError as e:
        print(f"evoprune: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("evoprune: interrupted", file=sys.stderr)
        return 130
