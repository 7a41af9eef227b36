"""How evoprune's algorithms call the operators a user may swap, and whether a function can be called so."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Mapping

from ..errors import ConfigError

# alias -> (what it is, the positional arguments and the keywords evoprune's algorithms call it with; see
# algorithms/ga.py, nsga2.py, sa.py and hc.py). `individual` and `population` are called differently by each
# algorithm, so only the arguments bound to them are checked.
CALLS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "mate": ("a crossover", ("ind1", "ind2"), ()),
    "mutate": ("a mutation", ("individual",), ("indpb",)),
    "select": ("a selection", ("individuals", "k"), ()),
    "parents": ("a parent selection", ("individuals", "k"), ()),
}


def misfit(alias: str, fn: Callable, kwargs: Mapping[str, Any] | None = None) -> str | None:
    """Why `fn`, with `kwargs` bound (or a `functools.partial`, as DEAP's toolbox registers it), cannot be
    called as evoprune calls `alias`; None when it can, or when its signature cannot be read."""
    fn, args, keywords = _unwrap(fn)
    keywords.update(kwargs or {})
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # some builtins publish no signature: such a function can only fail when called
    what, positional, called_with = CALLS.get(alias, ("", (), ()))
    try:
        if what:
            # The call's keywords win over bound ones, as they do in a partial.
            signature.bind(*args, *positional, **{**keywords, **dict.fromkeys(called_with)})
        else:
            signature.bind_partial(*args, **keywords)
    except TypeError as e:
        if not what:
            return f"does not take the arguments given ({e})"
        call = ", ".join((*positional, *(f"{k}=…" for k in called_with)))
        given = " with the arguments given" if keywords else ""
        return f"cannot be {what}: evoprune calls {alias}({call}){given} ({e})"
    return None


def _unwrap(fn: Callable) -> tuple[Callable, tuple, dict]:
    """The function a (possibly nested) `functools.partial` calls, with the arguments it binds."""
    args, keywords = (), {}
    while isinstance(fn, functools.partial):
        fn, args, keywords = fn.func, fn.args + args, {**fn.keywords, **keywords}
    return fn, args, keywords


def check_toolbox(toolbox) -> None:
    """Refuse, before any evaluation, a toolbox whose swappable operators evoprune's algorithms cannot call."""
    for alias in CALLS:
        fn = getattr(toolbox, alias, None)
        why = misfit(alias, fn) if fn is not None else None
        if why:
            func = _unwrap(fn)[0]
            name = f"{getattr(func, '__module__', None) or ''}.{getattr(func, '__qualname__', repr(func))}".lstrip(".")
            raise ConfigError(f"toolbox.{alias}: {name} {why}")
