"""The toolbox inside evoprune's searches: `customize` runs once, and a user's registrations stay in force."""
import os

import numpy as np
import pytest

from evoprune.errors import ConfigError
from evoprune.problem import operators

from .fake_problem import SPECS, Callback, make_search, true_scores

ALIASES = ("individual", "population", "evaluate", "mate", "mutate", "select", "map")


def test_customize_runs_once_with_every_alias_before_any_evaluation():
    seen, sent = [], []

    def customize(tb):
        seen.append(({a: hasattr(tb, a) for a in ALIASES}, len(sent)))

    search = make_search("sa", budget=40, customize=customize, scores=true_scores(), sent=sent)
    assert len(seen) == 1 and all(seen[0][0].values()) and seen[0][1] == 0  # before the unpruned model is scored
    search.run()
    assert len(seen) == 1 and len(sent) == 40  # not again during the run


class Spies:
    """Wrappers around evoprune's own operators that note the genome size they were called on."""

    def __init__(self, tb):
        self.calls = {a: [] for a in ("individual", "population", "mutate", "evaluate", "mate")}
        self.tb = tb
        for alias in self.calls:
            tb.register(alias, self.spy(alias, getattr(tb, alias)))

    def spy(self, alias, original):
        def wrapper(*args, **kwargs):
            self.calls[alias].append(self.tb.genome.size)
            return original(*args, **kwargs)
        return wrapper


@pytest.mark.parametrize("name", ["sa", "ga"])
def test_a_users_operators_stay_registered_in_every_layer(name):
    holder = {}
    search = make_search(name, budget=150, scope="layers", scores=true_scores(),
                         customize=lambda tb: holder.setdefault("spies", Spies(tb)))
    spies = holder["spies"]
    registered = {a: getattr(search.toolbox, a) for a in spies.calls}
    search.run()
    assert {a: getattr(search.toolbox, a) for a in spies.calls} == registered  # nothing re-registered
    sizes = {s.size for s in SPECS}
    assert set(spies.calls["evaluate"]) == sizes    # every layer's candidates went through the user's evaluate
    assert set(spies.calls["mutate"]) == sizes      # and every layer's moves through the user's mutate
    if name == "ga":
        assert set(spies.calls["population"]) == sizes and spies.calls["mate"]


def test_a_registration_made_between_layers_is_kept_for_the_later_ones():
    class SwapAtSecondLayer(Callback):
        def __init__(self):
            self.flips = []

        def on_unit_start(self, search):
            if search.state.unit == 1:
                def flip(ind, indpb, rng=np.random.default_rng(5)):
                    self.flips.append(search.layout.name)
                    return operators.mut_flip(ind, indpb, rng)
                search.toolbox.register("mutate", flip, indpb=0.1)

    swap = SwapAtSecondLayer()
    make_search("sa", budget=150, scope="layers", scores=true_scores(), callbacks=[swap]).run()
    assert set(swap.flips) == {SPECS[1].name, SPECS[2].name}


@pytest.mark.parametrize("name", ["sa", "ga", "hc", "nsga2"])
def test_a_users_operator_of_the_wrong_kind_is_refused_before_any_evaluation(name):
    make_search(name, customize=lambda tb: None)  # evoprune's own operators fit their aliases
    sent = []
    with pytest.raises(ConfigError, match=r"toolbox.mate: \w+\.system cannot be a crossover: evoprune calls "
                                          r"mate\(ind1, ind2\)"):
        make_search(name, customize=lambda tb: tb.register("mate", os.system), sent=sent)
    assert not sent
