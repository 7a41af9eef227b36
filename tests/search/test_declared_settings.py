"""Each shared setting is declared once, in `SearchConfig`: its flag on `prune` and `compare`, its spec key, its
place in run.json and the resume check all come from that declaration."""
from dataclasses import fields, replace

import pytest

from evoprune.algorithms import config_record, make_algorithm
from evoprune.cli import build_parser
from evoprune.errors import ConfigError
from evoprune.experiments.spec import parse
from evoprune.search.config import SearchConfig

# Made different from every default, by type, so a setting that does not travel shows up.
OTHER = {bool: lambda v: not v, int: lambda v: v + 3, float: lambda v: round(v / 2 + 0.01, 4)}


def shared() -> list:
    return [f for f in fields(SearchConfig) if f.name not in ("settings", "seed")]


def other_value(f):
    """A valid value of setting `f` other than its default: the next of its choices, else by its type."""
    choices = f.metadata["choices"]
    if choices:
        return choices[(choices.index(f.default) + 1) % len(choices)]
    return OTHER[type(f.default)](f.default)


def flag(f, value) -> list[str]:
    name = f.name.replace("_", "-")
    if isinstance(value, bool):
        return [f"--{name}" if value else f"--no-{name}"]
    return [f"--{name}", str(value)]


@pytest.mark.parametrize("command", ["prune", "compare"])
def test_every_shared_setting_has_a_flag_made_from_its_declaration(command):
    base = ["prune", "--model", "m.keras"] if command == "prune" else \
        ["compare", "--algorithms", "sa", "--seeds", "1", "--out", "o"]
    for f in shared():
        value = other_value(f)
        args = build_parser().parse_args([*base, *flag(f, value)])
        assert getattr(args, f.name) == value, f.name


def test_every_shared_setting_is_a_spec_key_and_is_recorded_and_read_back_from_run_json():
    for f in shared():
        value = other_value(f)
        spec = parse({"variants": {"v": {"algorithm": "sa", "settings": {f.name: value}}}})
        config = spec.config(spec.variants[0], 0)
        assert getattr(config, f.name) == value, f.name
        record = config_record(make_algorithm("sa", SearchConfig()), replace(SearchConfig(), **{f.name: value}))
        assert record[f.name] == value  # run.json
        assert getattr(SearchConfig.from_dict(record), f.name) == value  # what --resume reads back


def test_common_settings_come_first_in_help_and_the_others_under_research_options():
    text = build_parser()._subparsers._group_actions[0].choices["prune"].format_help()
    text = text[text.index("\noptions:"):]  # past the usage line, which names every flag
    research = text.index("research options")
    for f in shared():
        name = f"  --{f.name.replace('_', '-')}"
        where = min(text.index(name + end) for end in (" ", ",", "\n") if name + end in text)
        assert (where < research) == f.metadata["common"], f.name


def test_a_removed_setting_is_refused_by_name_with_its_reason():
    with pytest.raises(ConfigError, match="refit_folds was removed from evoprune: cross-fitting"):
        parse({"variants": {"v": {"algorithm": "sa", "settings": {"refit_folds": 5}}}})
    with pytest.raises(SystemExit):
        build_parser().parse_args(["prune", "--model", "m.keras", "--calibration", "shifted"])
