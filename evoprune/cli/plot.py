"""`evoprune plot`: redraw an experiment's (or comparison's) report from its files, without searching or TensorFlow."""
from __future__ import annotations

from .experiment import report


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="redraw an experiment's summary.md, summary.csv and figures from its run files "
                                    "(the same as `evoprune experiment report`)")
    p.add_argument("out", metavar="OUT", help="the folder `evoprune experiment run` or `evoprune compare` wrote")
    p.set_defaults(run=report)
