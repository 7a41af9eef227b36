"""Experiment specs: every mistake is one line before any work; the canonical form survives a round trip."""
import pytest

from conftest import HOW, run_evoprune
from evoprune.errors import ConfigError
from evoprune.experiments.spec import load, parse, to_toml

GOOD = {
    "seeds": 3, "budget": 200,
    "data": {"path": "data.npz"},
    "settings": {"eval_set": "validation", "population": 6},
    "variants": {
        "ga-1pt": {"algorithm": "ga"},
        "ga-2pt": {"algorithm": "ga", "operators": {"mate": "deap.tools.cxTwoPoint"}},
        "ga-uniform": {"algorithm": "ga", "operators": {"mate": {"function": "cxUniform", "indpb": 0.3}}},
        "sa": {"algorithm": "sa", "settings": {"t0": 0.004}},
    },
}


def with_(path, value):
    """GOOD with one entry changed (a dotted path of keys)."""
    import copy

    raw = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    target = raw
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value
    return raw


def test_a_good_spec_and_its_round_trip():
    spec = parse(GOOD)
    assert [v.name for v in spec.variants] == ["ga-1pt", "ga-2pt", "ga-uniform", "sa"]
    assert spec.seeds == (0, 1, 2) and spec.budget == 200
    assert spec.variants[2].operators == {"mate": {"function": "cxUniform", "indpb": 0.3}}
    config = spec.config(spec.variants[3], seed=2)
    assert (config.seed, config.budget, config.eval_set, config.settings["t0"]) == (2, 200, "validation", 0.004)
    import tomllib

    assert parse(tomllib.loads(to_toml(spec))).to_dict() == spec.to_dict()
    assert parse(with_("seeds", [4, 7])).seeds == (4, 7)


BAD = {
    "unknown top-level key": (with_("budgett", 5), "unknown key 'budgett' in the spec"),
    "unknown key in a variant": (with_("variants.sa.t0", 1.0), "unknown key 't0' in [variants.sa]"),
    "unknown data key": (with_("data.file", "x"), "unknown key 'file' in [data]"),
    "unknown algorithm": (with_("variants.sa.algorithm", "tabu"), "unknown algorithm 'tabu'"),
    "setting the algorithm lacks": (with_("variants.sa.settings", {"population": 3}), "sa has no setting 'population'"),
    "unknown setting": (with_("variants.sa.settings", {"warp": 3}), "no search setting 'warp'"),
    "setting of the wrong type": (with_("variants.sa.settings", {"t0": "hot"}), "t0 must be a float"),
    "bad operator path": (with_("variants.ga-2pt.operators", {"mate": "deap.tools.cxThreePoint"}),
                          "deap.tools has no 'cxThreePoint'"),
    "operator module missing": (with_("variants.ga-2pt.operators", {"mate": "nowhere.cx"}), "cannot import nowhere"),
    "operator alias unknown": (with_("variants.ga-2pt.operators", {"breed": "cxTwoPoint"}), "operators.breed"),
    "crossover of the wrong kind": (with_("variants.ga-2pt.operators", {"mate": "os.system"}),
                                    "operators.mate: 'os.system' cannot be a crossover: evoprune calls mate(ind1, "
                                    "ind2)"),
    "mutation without indpb": (with_("variants.ga-2pt.operators", {"mutate": "deap.tools.mutInversion"}),
                               "cannot be a mutation: evoprune calls mutate(individual, indpb=…)"),
    "selection missing its argument": (with_("variants.ga-2pt.operators", {"select": "selTournament"}),
                                       "missing a required argument: 'tournsize'"),
    "operator argument unknown": (with_("variants.ga-2pt.operators", {"mate": {"function": "cxUniform", "indpb": 0.3,
                                                                               "pb": 0.1}}),
                                  "unexpected keyword argument 'pb'"),
    "no variants": (with_("variants", {}), "no [variants.NAME] tables"),
    "seeds not a count": (with_("seeds", 0), "seeds must be a count"),
    "shared setting nobody has": (with_("settings", {"neighbours": 2}), "no variant's algorithm has the setting"),
    "variant name": (with_("variants", {"a/b": {"algorithm": "sa"}}), "a variant's name"),
    "training with a model path": (with_("model", {"path": "m.keras", "train": {"epochs": 2}}), "not both"),
    "imports not a list": (with_("imports", "json"), "imports must be a list of module names"),
    "a module that cannot be imported": (with_("imports", ["json", "evoprune_no_such_module"]),
                                         "spec.toml: imports: cannot import module 'evoprune_no_such_module'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_every_mistake_is_one_clear_error(case):
    raw, words = BAD[case]
    with pytest.raises(ConfigError) as e:
        parse(raw, "spec.toml")
    assert words in str(e.value) and "\n" not in str(e.value)


def test_imports_survive_a_round_trip_and_leave_the_experiment_the_same():
    import tomllib

    spec = parse(with_("imports", ["json"]))
    assert spec.imports == ("json",) and parse(tomllib.loads(to_toml(spec))).imports == ("json",)
    assert spec.to_dict() == parse(GOOD).to_dict()  # modules that let the model load change no result


def test_operators_fitting_their_alias_pass_the_check():
    operators = {"mate": {"function": "cxUniform", "indpb": 0.3}, "mutate": "informed",  # rng, genome: evoprune's
                 "select": {"function": "selTournament", "tournsize": 3}, "parents": "deap.tools.selTournamentDCD",
                 "individual": {"function": "evoprune.problem.operators.init_informed", "spread": 0.1}}
    assert set(parse(with_("variants.ga-2pt.operators", operators)).variants[1].operators) == set(operators)
    # A builtin without a readable signature is left to run (a task raising then stops the run at once).
    assert parse(with_("variants.ga-2pt.operators", {"mate": "builtins.max"})).variants[1].operators


def test_budget_and_settings_are_checked_against_the_model():
    spec = parse(with_("budget", 5))  # a population of 6 and the unpruned model need 7
    with pytest.raises(ConfigError, match="variant ga-1pt: --budget 5 is too small for ga: it needs at least 7"):
        spec.check(n_layers=5)
    with pytest.raises(ConfigError, match="sa has no setting 'crossover'"):
        parse(with_("variants.sa.settings", {"crossover": 2.0}))
    with pytest.raises(ConfigError, match="--crossover must be in"):
        parse(with_("variants.ga-1pt.settings", {"crossover": 2.0})).check(n_layers=5)


CLI_CASES = {
    "unknown key": ('seeds = 2\nbudgett = 3\n[variants.sa]\nalgorithm = "sa"\n', "unknown key 'budgett'"),
    "bad operator path": ('seeds = 2\n[variants.ga]\nalgorithm = "ga"\noperators.mate = "deap.tools.cxNope"\n',
                          "deap.tools has no 'cxNope'"),
    "not TOML": ("seeds = = 2\n", "not valid TOML"),
    "operator of the wrong kind": ('seeds = 2\n[variants.ga]\nalgorithm = "ga"\noperators.mate = "os.system"\n',
                                   "'os.system' cannot be a crossover"),
    "a module that cannot be imported": ('seeds = 1\nimports = ["evoprune_no_such_module"]\n[variants.sa]\n'
                                         'algorithm = "sa"\n', "cannot import module 'evoprune_no_such_module'"),
}


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_command_line_says_it_in_one_line_with_exit_2_before_any_work(case, how, tmp_path):
    text, words = CLI_CASES[case]
    (tmp_path / "spec.toml").write_text(text)
    p = run_evoprune(["experiment", "run", str(tmp_path / "spec.toml"), "--out", str(tmp_path / "out")], how,
                     timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and words in p.stderr, p.stderr
    assert not (tmp_path / "out").exists()


def test_load_reads_a_file_and_names_a_missing_one(tmp_path):
    with pytest.raises(ConfigError, match="no such spec file"):
        load(str(tmp_path / "none.toml"))
    (tmp_path / "s.toml").write_text(to_toml(parse(GOOD)))
    spec, text = load(str(tmp_path / "s.toml"))
    assert spec.to_dict() == parse(GOOD).to_dict() and text.startswith("title")
