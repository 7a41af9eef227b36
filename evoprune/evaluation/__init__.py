"""Fast mask evaluation in any process: compiled masked forwards with a prefix cache, and the per-process registry."""
from .context import Context, EvalResult, StaleContextError
from .engine import MaskEvaluator

__all__ = ["Context", "EvalResult", "MaskEvaluator", "StaleContextError"]
