"""Fast mask evaluation in any process: compiled masked forwards with a prefix cache, and the per-process registry."""
from .context import Context, EvalResult, StaleContextError
from .engine import MaskEvaluator
from .refitted import RefitEvaluator

__all__ = ["Context", "EvalResult", "MaskEvaluator", "RefitEvaluator", "StaleContextError"]
