"""evoprune: prune neural networks by searching their weight masks with DEAP metaheuristics."""

__version__ = "0.1.0"

from .api import PruneResult, prune  # noqa: E402  (after __version__, which the CLI reads)
from .config import PRESETS, SearchConfig, make_config  # noqa: E402

__all__ = ["PRESETS", "PruneResult", "SearchConfig", "make_config", "prune", "__version__"]
