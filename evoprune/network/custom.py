"""Custom Keras classes: importing the modules that register them, wherever a model is rebuilt from its file."""
from __future__ import annotations

import importlib
import sys
from typing import Sequence

from .._tf import import_keras
from ..errors import ConfigError

# Packages whose classes Keras finds on its own when it rebuilds a model.
KERAS_PACKAGES = ("keras", "tf_keras", "tensorflow")


def import_modules(modules: Sequence[str]) -> None:
    """Import each module, so the custom classes it registers (`@keras.saving.register_keras_serializable`) are
    known to Keras in this process; ConfigError naming the first that cannot be imported."""
    if modules:  # Keras first, quietly: imported by a module, it would print TensorFlow's start-up lines
        import_keras()
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # a module's own code may raise anything while it is imported
            reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            raise ConfigError(f"cannot import module {name!r} ({reason})") from None


def model_modules(model) -> tuple[str, ...]:
    """The modules defining the model's own classes that Keras does not know (its custom layers, a subclassed
    model), in sorted order: those imported here under their name, which other processes can import too."""
    found, todo = set(), [model]
    while todo:
        layer = todo.pop()
        found.add(type(layer).__module__)
        todo.extend(getattr(layer, "layers", ()))  # a model nested in the model
    # `__main__` names another module in every process (a spawned worker imports the script as `__mp_main__`).
    return tuple(sorted(m for m in found if m.split(".")[0] not in KERAS_PACKAGES and m != "__main__"
                        and m in sys.modules))


def modules_for(model, imports: Sequence[str] = ()) -> tuple[str, ...]:
    """The modules a process imports before it rebuilds `model` from its bytes: `imports`, then its own classes'."""
    return tuple(dict.fromkeys([*imports, *model_modules(model)]))
