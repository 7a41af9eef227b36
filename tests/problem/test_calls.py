"""Operators are checked against how evoprune calls their alias (the toolbox seam: tests/algorithms)."""
import functools
import os

from deap import tools

from evoprune.problem.calls import misfit


def test_a_function_fits_an_alias_by_its_signature_and_bound_arguments():
    assert misfit("mate", tools.cxTwoPoint) is None
    assert misfit("mate", functools.partial(tools.cxUniform, indpb=0.3)) is None
    assert misfit("mate", tools.cxUniform, {"indpb": 0.3}) is None
    assert "missing a required argument: 'indpb'" in misfit("mate", tools.cxUniform)
    assert "cannot be a crossover" in misfit("mate", os.system)
    assert misfit("mutate", tools.mutFlipBit) is None  # evoprune passes indpb at every call
    assert "unexpected keyword argument 'indpb'" in misfit("mutate", tools.mutInversion)
    assert misfit("select", tools.selTournament, {"tournsize": 3}) is None
    assert "cannot be a parent selection" in misfit("parents", tools.cxTwoPoint, {"indpb": 1})
    assert misfit("individual", tools.initRepeat, {"container": list}) is None
    assert "does not take the arguments given" in misfit("individual", tools.initRepeat, {"size": 3})
    assert misfit("mate", max) is None  # no signature to read: it can only fail when called
