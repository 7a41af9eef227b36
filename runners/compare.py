"""Run a comparison from a script (e.g. a batch job on a multicore machine); the arguments of `evoprune compare`.

    python runners/compare.py --algorithms sa,ga --seeds 10 --preset study \
        --executor process --parallel 16 --out results/compare
"""
import sys

from evoprune.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
