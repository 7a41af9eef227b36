"""Settings given as text (`--set [ALGORITHM.]KEY=VALUE`, experiment specs): checked names, converted values."""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Iterable, Mapping, Sequence

from ..algorithms import algorithm_class, setting_types
from ..errors import ConfigError
from ..search.config import REMOVED, SearchConfig


def setting_type(key: str) -> type:
    """The type of a shared setting or of an algorithm's setting; an unknown name is a ConfigError listing them."""
    shared = {f.name: type(getattr(SearchConfig(), f.name)) for f in fields(SearchConfig) if f.name != "settings"}
    algorithm = {k: t for k, (t, _) in setting_types().items()}
    if key in shared:
        return shared[key]
    if key in algorithm:
        return algorithm[key]
    if key in REMOVED:
        raise ConfigError(f"setting {key} was removed from evoprune: {REMOVED[key][1]}")
    raise ConfigError(f"no search setting {key!r} (settings: {', '.join(sorted({*shared, *algorithm} - {'seed'}))})")


def convert(item: str, text: str, kind: type) -> Any:
    """`text` as a value of `kind` (bools as true/false/yes/no/1/0, pairs as "0.3,0.9")."""
    if kind is bool:
        flags = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        if text.lower() in flags:
            return flags[text.lower()]
    else:
        try:
            return tuple(float(v) for v in text.split(",")) if kind is tuple else kind(text)
        except ValueError:
            pass
    raise ConfigError(f"--set {item}: expected a value of type {kind.__name__}, got {text!r}")


def owns(algorithm: str, key: str) -> bool:
    """Whether `key` is a shared setting or one `algorithm` declares."""
    own = {f.name for f in fields(algorithm_class(algorithm).Settings)}
    return key in own or key in {f.name for f in fields(SearchConfig)}


def check_given(settings: Mapping[str, Any], algorithms: Sequence[str]) -> None:
    """Refuse a setting given for every algorithm that none of them declares (e.g. t0 with GA alone)."""
    for key in settings:
        if not any(owns(a, key) for a in algorithms):
            raise ConfigError(f"--{key.replace('_', '-')}: no setting {key!r} in {', '.join(algorithms)}")


def parse_settings(items: Iterable[str], algorithms: Sequence[str]) -> dict[str, dict]:
    """`[ALGORITHM.]KEY=VALUE` items -> {algorithm: {key: value}}; no prefix means every algorithm.

    Names are checked (a prefixed one must be the algorithm's own) and values converted to the
    setting's type; the seed is not a setting (runs are seeded 0..N-1).
    """
    settings: dict[str, dict] = {a: {} for a in algorithms}
    for item in items:
        target, eq, text = item.partition("=")
        algo, dot, key = target.rpartition(".")
        key = key.strip().replace("-", "_")
        if not eq or not key:
            raise ConfigError(f"--set {item}: expected [ALGORITHM.]KEY=VALUE, e.g. ga.population=20")
        if dot and algo not in algorithms:
            raise ConfigError(f"--set {item}: {algo!r} is not among the algorithms ({', '.join(algorithms)})")
        if key == "seed":
            raise ConfigError(f"--set {item}: the seeds are 0..N-1 from --seeds")
        value = convert(item, text.strip(), setting_type(key))
        targets = [algo] if dot else list(algorithms)
        if not any(owns(a, key) for a in targets):
            raise ConfigError(f"--set {item}: no setting {key!r} in {', '.join(targets)}")
        for a in targets:
            settings[a][key] = value
    return settings
