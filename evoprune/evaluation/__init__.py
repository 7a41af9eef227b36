"""Fast mask evaluation: compiled masked forwards with a per-context prefix cache (`MaskEvaluator`)."""
from .context import Context, EvalResult, StaleContextError
from .engine import MaskEvaluator

__all__ = ["Context", "EvalResult", "MaskEvaluator", "StaleContextError"]
