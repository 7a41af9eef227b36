"""evoprune: prune neural networks by searching their weight masks with DEAP metaheuristics."""

__version__ = "0.1.0"

from ._tf import one_thread_per_op  # noqa: E402

# Before TensorFlow can start: scores then do not depend on how many threads computed them.
one_thread_per_op()

# After __version__, which the CLI reads.
from .api import Execution, Folder, Hooks, Images, PruneResult, prune  # noqa: E402
from .evaluation.registry import init_worker  # noqa: E402
from .experiments.baselines import load_data  # noqa: E402
from .problem.objectives import Floor, Study  # noqa: E402
from .problem.problem import Problem  # noqa: E402
from .search import PRESETS, SearchConfig, SearchResult, make_config, search  # noqa: E402

__all__ = ["PRESETS", "Execution", "Floor", "Folder", "Hooks", "Images", "Problem", "PruneResult", "SearchConfig",
           "SearchResult", "Study", "init_worker", "load_data", "make_config", "prune", "search", "__version__"]
