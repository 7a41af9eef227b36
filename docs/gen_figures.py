"""Copy the figures the pages show from results/ into the built site, under figures/<folder>/<name>.png.

Run by mkdocs-gen-files at build time: MkDocs serves only files under docs/, and the figures stay where
the experiments wrote them.
"""
from pathlib import Path

import mkdocs_gen_files

RESULTS = Path(__file__).resolve().parent.parent / "results"
FIGURES = (
    "certified-fashion/tradeoff.png",
    "certified-fashion/anytime.png",
    "certified-mnist5k/tradeoff.png",
    "experiment-operators/anytime.png",
    "experiment-operators/tradeoff.png",
    "fashion-cnn/tradeoff.png",
    "fashion-refit-loop/anytime.png",
    "nsga2-mnist5k/front.png",
    "refit-loop/anytime.png",
    "refit-loop/layers.png",
    "search-mnist5k-versus/versus.png",
    "study-mnist5k/results.png",
)

for name in FIGURES:
    with mkdocs_gen_files.open(f"figures/{name}", "wb") as out:
        out.write((RESULTS / name).read_bytes())
