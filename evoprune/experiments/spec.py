"""Experiment specs: data, model (a file, or how to train one), budget, seeds and named variants, all checked first.

A spec is TOML:

    seeds = 10                       # seeds 0..9 (or a list)
    budget = 1000
    [data]
    path = "../shared/data/mnist/mnist-5k.npz"
    [variants.ga-2pt]
    algorithm = "ga"
    operators.mate = "deap.tools.cxTwoPoint"
    [variants.sa]
    algorithm = "sa"
    settings.t0 = 0.004

A model with custom layers names the modules registering them: `imports = ["mylayers"]`,
imported here and by every worker before the model is loaded there.
Paths are as on the command line: relative to the folder the command runs in. Any unknown
key, algorithm, setting or operator is one readable error before any work.
"""
from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ..algorithms import algorithm_class, check_budget, make_algorithm, units
from ..errors import ConfigError
from ..network.custom import import_modules
from ..network.models import ARCHITECTURES, OPTIMIZERS, TrainConfig
from ..problem.data import DATASETS
from ..search.config import PRESETS, SearchConfig, make_config, shared_names
from .operators import ALIASES, check_entry
from .settings import owns, setting_type

KEYS = ("title", "seeds", "budget", "preset", "settings", "data", "model", "variants", "imports", "problems", "suite")
PROBLEM_KEYS = ("data", "model", "settings", "targets")
# The sparsity targets of a problem whose spec names none: fixed before any run, as anytime analysis needs.
DEFAULT_TARGETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DATA_KEYS = ("path", "dataset")
MODEL_KEYS = ("path", "train")
TRAIN_KEYS = ("architecture", "epochs", "optimizer", "learning_rate", "batch_size", "seed", "val_fraction")
VARIANT_KEYS = ("algorithm", "settings", "operators")
# The baseline an experiment trains when its spec names no model file: Adam converges in far
# fewer epochs than the study's SGD at 0.1, which makes one command from a fresh install practical.
DEFAULT_TRAINING = {"architecture": "lenet5", "epochs": 100, "optimizer": "adam", "learning_rate": 0.005,
                    "batch_size": 128, "seed": 0, "val_fraction": 0.2}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Variant:
    """One named way of searching: an algorithm, its settings, and operator swaps (alias -> function and arguments)."""

    name: str
    algorithm: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    operators: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"algorithm": self.algorithm, "settings": dict(self.settings),
                "operators": {a: dict(o) for a, o in self.operators.items()}}


@dataclass(frozen=True)
class ProblemSpec:
    """One pruning problem of a benchmark: its data, its model (a file or a training recipe), the settings that
    make it (δ, the decision and certification images) and its ladder of sparsity targets, fixed before any run."""

    name: str
    data: Mapping[str, Any]
    model: Mapping[str, Any]
    settings: Mapping[str, Any] = field(default_factory=dict)
    targets: tuple[float, ...] = DEFAULT_TARGETS

    def to_dict(self) -> dict:
        return {"data": dict(self.data), "model": _plain(self.model), "settings": dict(self.settings),
                "targets": list(self.targets)}


@dataclass(frozen=True)
class Spec:
    """An experiment: every variant × seed searched with the same budget on the same model and data; or, with
    `problems`, a benchmark: every variant × seed on each problem (`for_problem`), each its own experiment.
    """

    variants: tuple[Variant, ...]
    seeds: tuple[int, ...]
    budget: int | None = None
    preset: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)  # for every variant that has them
    data: Mapping[str, Any] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)     # {"path": …} or {"train": {…}}
    title: str = ""
    # Modules registering the model's custom Keras classes. They let the model load and change no result,
    # so they are not part of what makes two specs the same experiment (`to_dict`).
    imports: tuple[str, ...] = ()
    problems: tuple[ProblemSpec, ...] = ()

    def to_dict(self) -> dict:
        """The spec in canonical form: what two specs must share to be the same experiment."""
        d = {"title": self.title, "seeds": list(self.seeds), "budget": self.budget, "preset": self.preset,
             "settings": dict(self.settings), "data": dict(self.data), "model": _plain(self.model),
             "variants": {v.name: v.to_dict() for v in self.variants},
             # whether each variant's runs are certified, however the spec says it (a record without this
             # was made before certification: none of its runs were)
             "certify": {v.name: self.config(v, self.seeds[0]).certify for v in self.variants}}
        # (only a benchmark has the key: a single-problem spec keeps the record, and digest, it always had)
        return {**d, "problems": {p.name: p.to_dict() for p in self.problems}} if self.problems else d

    def for_problem(self, problem: ProblemSpec) -> "Spec":
        """The experiment of one of a benchmark's problems: its data, model and settings in place of the spec's."""
        return replace(self, problems=(), data=problem.data, model=problem.model,
                       settings={**self.settings, **problem.settings},
                       title=f"{self.title}: {problem.name}" if self.title else problem.name)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def config(self, variant: Variant, seed: int) -> SearchConfig:
        """The search config of one run: the preset, the budget, the shared settings, then the variant's."""
        return make_config(self.preset, seed=seed, **{"budget": self.budget, **self.settings, **variant.settings})

    def training(self) -> TrainConfig | None:
        """How to train the baseline (None: the spec names a model file)."""
        return None if "path" in self.model else training_config(self.model.get("train", {}))

    @property
    def val_fraction(self) -> float:
        return {**DEFAULT_TRAINING, **self.model.get("train", {})}["val_fraction"]

    def check(self, n_layers: int) -> None:
        """Check every variant's settings and budget against a model with `n_layers` prunable layers."""
        for v in self.variants:
            config = self.config(v, self.seeds[0]).validate()
            algo = make_algorithm(v.algorithm, config)
            try:
                check_budget(algo, config, units(algo, config, n_layers))
            except ConfigError as e:
                raise ConfigError(f"variant {v.name}: {e}") from None


def training_config(overrides: Mapping[str, Any] = {}) -> TrainConfig:  # noqa: B006  (read only)
    """The baseline training of a spec's [model.train] (the default training with `overrides` on top)."""
    t = {**DEFAULT_TRAINING, **overrides}
    return TrainConfig(t["epochs"], t["optimizer"], t["learning_rate"], t["batch_size"], t["seed"], t["architecture"])


def _plain(m: Mapping) -> dict:
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in m.items()}


def load(path: str) -> tuple[Spec, str]:
    """The spec in a TOML file, checked, and its text."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such spec file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the spec ({e})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    return parse(raw, path), text


def _unknown(table: Mapping, known, where: str, source: str) -> None:
    extra = sorted(set(table) - set(known))
    if extra:
        raise ConfigError(f"{source}: unknown key {extra[0]!r} in {where} (known: {', '.join(known)})")


def _table(raw: Mapping, key: str, where: str, source: str) -> Mapping:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: {where}{key} must be a table")
    return value


def _setting(key: str, value: Any, where: str, source: str) -> Any:
    """A setting's value checked against its type (an int may stand for a float, a pair is a list of two)."""
    try:
        kind = setting_type(key)
    except ConfigError as e:
        raise ConfigError(f"{source}: {where}: {e}") from None
    if key == "seed":
        raise ConfigError(f"{source}: {where}: the seeds come from `seeds`, not a setting")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple and isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return tuple(float(v) for v in value)
    if kind is not tuple and isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    raise ConfigError(f"{source}: {where}: {key} must be a {kind.__name__}, got {value!r}")


def parse(raw: Mapping, source: str = "spec") -> Spec:
    """A Spec from a parsed TOML table; ConfigError naming the first problem, before any work."""
    _unknown(raw, KEYS, "the spec", source)
    seeds = raw.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        seeds = tuple(range(seeds))
    elif (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                    for s in seeds) and len(set(seeds)) == len(seeds)):
        seeds = tuple(seeds)
    else:
        raise ConfigError(f"{source}: seeds must be a count ≥ 1 or a list of distinct seeds ≥ 0, got {seeds!r}")
    budget = raw.get("budget")
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 1):
        raise ConfigError(f"{source}: budget must be a whole number of evaluations ≥ 1, got {budget!r}")
    preset = raw.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"{source}: unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    title = raw.get("title", "")
    if not isinstance(title, str):
        raise ConfigError(f"{source}: title must be a string")
    imports = _imports(raw.get("imports", []), source)
    data, model = _data_and_model(raw, "", source)

    variants_raw = _table(raw, "variants", "", source)
    if not variants_raw:
        raise ConfigError(f"{source}: no [variants.NAME] tables: name at least one variant with its algorithm")
    variants = tuple(_variant(name, v, source) for name, v in variants_raw.items())
    shared = {k: _setting(k, v, "[settings]", source) for k, v in _table(raw, "settings", "", source).items()}
    for key in shared:  # a shared setting must mean something to some variant
        if not any(owns(v.algorithm, key) for v in variants):
            raise ConfigError(f"{source}: [settings]: no variant's algorithm has the setting {key!r}")
    problems = _problems(raw, variants, source)
    if problems and (raw.get("data") or raw.get("model")):
        raise ConfigError(f"{source}: a spec with problems names each problem's data and model in its "
                          "[problems.NAME] table, not in [data] or [model]")
    return Spec(variants, seeds, budget, preset, shared, dict(data), _plain(model), title, imports, problems)


def _data_and_model(raw: Mapping, where: str, source: str) -> tuple[Mapping, Mapping]:
    """The [data] and [model] tables of the spec (`where` "") or of a problem (`where` "problems.NAME."), checked."""
    data = _table(raw, "data", where, source)
    _unknown(data, DATA_KEYS, f"[{where}data]", source)
    if "dataset" in data and data["dataset"] not in DATASETS:
        raise ConfigError(f"{source}: [{where}data] dataset must be one of {', '.join(DATASETS)}, "
                          f"got {data['dataset']!r}")
    if "path" in data and not isinstance(data["path"], str):
        raise ConfigError(f"{source}: [{where}data] path must be a string")
    model = _table(raw, "model", where, source)
    _unknown(model, MODEL_KEYS, f"[{where}model]", source)
    if "path" in model and "train" in model:
        raise ConfigError(f"{source}: [{where}model] takes a path or a [{where}model.train] table, not both")
    if "path" in model and not isinstance(model["path"], str):
        raise ConfigError(f"{source}: [{where}model] path must be a string")
    train = _table(model, "train", f"[{where}model].", source)
    _unknown(train, TRAIN_KEYS, f"[{where}model.train]", source)
    _check_training({**DEFAULT_TRAINING, **train}, source)
    return data, model


def _problems(raw: Mapping, variants: tuple[Variant, ...], source: str) -> tuple[ProblemSpec, ...]:
    """A benchmark's problems: a built-in suite (`suite = "small"`, `evoprune.suites`) and/or [problems.NAME]
    tables; each names its data (a dataset or a path) and a model or its training, its settings and targets."""
    from ..suites import suite_problems

    tables = dict(suite_problems(raw["suite"], source)) if "suite" in raw else {}
    for name, table in _table(raw, "problems", "", source).items():
        if name in tables:
            raise ConfigError(f"{source}: [problems.{name}] is already a problem of suite {raw['suite']!r}")
        tables[name] = table
    return tuple(_problem(name, table, variants, source) for name, table in tables.items())


def _problem(name: str, raw: Any, variants: tuple[Variant, ...], source: str) -> ProblemSpec:
    where = f"[problems.{name}]"
    if not _NAME.match(name):
        raise ConfigError(f"{source}: {where}: a problem's name is letters, digits, '.', '_' and '-' (it names "
                          "folders)")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: {where} must be a table")
    _unknown(raw, PROBLEM_KEYS, where, source)
    data, model = _data_and_model(raw, f"problems.{name}.", source)
    if not data:
        raise ConfigError(f"{source}: {where} has no data: give data.dataset (mnist, fashion_mnist) or data.path")
    settings = {k: _setting(k, v, where, source) for k, v in _table(raw, "settings", f"{where} ", source).items()}
    for key in settings:
        if not any(owns(v.algorithm, key) for v in variants):
            raise ConfigError(f"{source}: {where}: no variant's algorithm has the setting {key!r}")
    targets = raw.get("targets", list(DEFAULT_TARGETS))
    if (not isinstance(targets, list) or not targets
            or not all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < 1 for t in targets)
            or any(b <= a for a, b in zip(targets, targets[1:]))):
        raise ConfigError(f"{source}: {where} targets must be a strictly increasing list of sparsities between 0 "
                          f"and 1, got {targets!r}")
    return ProblemSpec(name, dict(data), _plain(model), settings, tuple(float(t) for t in targets))


def _imports(value: Any, source: str) -> tuple[str, ...]:
    """The spec's `imports`, imported now: a module that cannot be is refused before any work."""
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise ConfigError(f"{source}: imports must be a list of module names, got {value!r}")
    try:
        import_modules(value)
    except ConfigError as e:
        raise ConfigError(f"{source}: imports: {e}") from None
    return tuple(value)


def _check_training(t: Mapping, source: str) -> None:
    for key in ("epochs", "batch_size"):
        if not isinstance(t[key], int) or isinstance(t[key], bool) or t[key] < 1:
            raise ConfigError(f"{source}: [model.train] {key} must be a whole number ≥ 1, got {t[key]!r}")
    if not isinstance(t["seed"], int) or isinstance(t["seed"], bool):
        raise ConfigError(f"{source}: [model.train] seed must be a whole number, got {t['seed']!r}")
    if t["architecture"] not in ARCHITECTURES:
        raise ConfigError(f"{source}: [model.train] architecture must be one of {', '.join(ARCHITECTURES)}")
    if t["optimizer"] not in OPTIMIZERS:
        raise ConfigError(f"{source}: [model.train] optimizer must be one of {', '.join(OPTIMIZERS)}")
    for key, ok in (("learning_rate", lambda v: v > 0), ("val_fraction", lambda v: 0 <= v < 1)):
        if not isinstance(t[key], (int, float)) or isinstance(t[key], bool) or not ok(t[key]):
            raise ConfigError(f"{source}: [model.train] {key} is out of range, got {t[key]!r}")


def _variant(name: str, raw: Any, source: str) -> Variant:
    where = f"[variants.{name}]"
    if not _NAME.match(name):
        raise ConfigError(f"{source}: {where}: a variant's name is letters, digits, '.', '_' and '-' (it names folders)")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: {where} must be a table")
    _unknown(raw, VARIANT_KEYS, where, source)
    if "algorithm" not in raw:
        raise ConfigError(f"{source}: {where} has no algorithm")
    try:
        algorithm_class(raw["algorithm"])
    except ConfigError as e:
        raise ConfigError(f"{source}: {where}: {e}") from None
    settings = {}
    for key, value in _table(raw, "settings", f"{where} ", source).items():
        settings[key] = _setting(key, value, where, source)
        if key not in shared_names() and not owns(raw["algorithm"], key):
            raise ConfigError(f"{source}: {where}: {raw['algorithm']} has no setting {key!r}")
    operators = {}
    for alias, entry in _table(raw, "operators", f"{where} ", source).items():
        if alias not in ALIASES:
            raise ConfigError(f"{source}: {where}: operators.{alias}: not a toolbox alias an operator can take "
                              f"({', '.join(ALIASES)})")
        entry = {"function": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, Mapping) or not isinstance(entry.get("function"), str):
            raise ConfigError(f"{source}: {where}: operators.{alias} is a name or dotted path, or a table with "
                              "`function` and its arguments")
        try:
            check_entry(alias, entry)
        except ConfigError as e:
            raise ConfigError(f"{source}: {where}: operators.{alias}: {e}") from None
        operators[alias] = dict(entry)
    return Variant(name, raw["algorithm"], settings, operators)


def from_args(variants: Mapping[str, tuple[str, Mapping]], seeds: int, budget: int | None, preset: str | None,
              data: Mapping, model: Mapping, title: str = "") -> Spec:
    """A spec for `evoprune compare`: one variant per algorithm (name -> (algorithm, settings))."""
    raw = {"title": title, "seeds": seeds, "preset": preset, "data": dict(data), "model": dict(model),
           "variants": {n: {"algorithm": a, "settings": dict(s)} for n, (a, s) in variants.items()}}
    if budget is not None:
        raw["budget"] = budget
    return parse({k: v for k, v in raw.items() if v is not None}, "compare")


def to_toml(spec: Spec) -> str:
    """The spec as TOML text (what `evoprune compare` stores, as a spec file would read)."""
    d = spec.to_dict()
    lines = [f"title = {_toml(d['title'])}", f"seeds = {_toml(d['seeds'])}"]
    lines += [f"{k} = {_toml(d[k])}" for k in ("budget", "preset") if d[k] is not None]
    lines += [f"imports = {_toml(list(spec.imports))}"] if spec.imports else []
    for table, values in (("settings", d["settings"]), ("data", d["data"])):
        if values:
            lines += ["", f"[{table}]", *(f"{k} = {_toml(v)}" for k, v in values.items())]
    if "path" in d["model"]:
        lines += ["", "[model]", f"path = {_toml(d['model']['path'])}"]
    elif d["model"].get("train"):
        lines += ["", "[model.train]", *(f"{k} = {_toml(v)}" for k, v in d["model"]["train"].items())]
    for name, v in d["variants"].items():
        lines += ["", f"[variants.{name}]", f"algorithm = {_toml(v['algorithm'])}"]
        lines += [f"settings.{k} = {_toml(x)}" for k, x in v["settings"].items()]
        for alias, op in v["operators"].items():
            args = ", ".join(f"{k} = {_toml(x)}" for k, x in op.items())
            lines.append(f"operators.{alias} = {{ {args} }}")
    return "\n".join(lines) + "\n"


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")
