"""`evoprune plot`: redraw a comparison's tables and figures from its files, without searching or TensorFlow."""
from __future__ import annotations

from ..errors import ConfigError


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="redraw a comparison's summary.md, summary.csv and figures from its run files")
    p.add_argument("out", metavar="OUT", help="the folder `evoprune compare --out` wrote")
    p.set_defaults(run=run)


def run(args) -> int:
    import os

    from ..experiments.compare import report

    if not os.path.isdir(args.out):
        raise ConfigError(f"{args.out}: no such folder")
    for path in report(args.out):
        print(path)
    return 0
