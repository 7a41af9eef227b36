"""Ctrl-C and resumes on the command line: one line saying what is true and how to continue, then the resume says
where it starts."""
import pytest

from evoprune.cli import main
from evoprune.results import checkpoint


@pytest.fixture
def prune_args(tiny_model, mnist_path, tmp_path):
    tiny_model.save(tmp_path / "model.keras")
    out = tmp_path / "run"
    return out, ["prune", "--model", str(tmp_path / "model.keras"), "--algorithm", "sa", "--data", mnist_path,
                 "--budget", "30", "--set", "eval_set=validation", "--checkpoint-every", "5", "--no-progress",
                 "--out", str(out)]


def one_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow  # a whole run resumed on the command line
def test_ctrl_c_before_the_first_checkpoint_says_resume_starts_again_from_the_beginning(prune_args, monkeypatch,
                                                                                       capsys):
    import evoprune.api

    out, args = prune_args

    def stopped(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(evoprune.api, "search", stopped)  # Ctrl-C once run.json is written, before any checkpoint
    capsys.readouterr()
    assert main(args) == 130
    line = one_line(capsys)
    assert "intact" not in line and "no checkpoint" in line, line
    assert f"evoprune prune --resume {out}" in line and "from the beginning" in line, line
    monkeypatch.undo()
    assert main(["prune", "--resume", str(out), "--no-progress"]) == 0
    assert "from the beginning" in capsys.readouterr().err and (out / "summary.json").exists()


@pytest.mark.slow  # a whole run resumed on the command line
def test_ctrl_c_after_a_checkpoint_resumes_there_and_says_at_which_evaluation(prune_args, monkeypatch, capsys):
    from evoprune.search import Search

    out, args = prune_args
    save = checkpoint.Checkpointer.save

    def save_then_stop(self, search):
        save(self, search)
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.Checkpointer, "save", save_then_stop)
    capsys.readouterr()
    assert main(args) == 130
    line = one_line(capsys)
    assert "intact" in line and f"evoprune prune --resume {out}" in line, line
    state = Search.restore((out / checkpoint.CHECKPOINT).read_bytes())
    at = state.evaluations + len(state.replay)
    assert 5 <= at < 30
    monkeypatch.undo()
    assert main(["prune", "--resume", str(out), "--no-progress"]) == 0
    assert f"{out}: resumed at evaluation {at}" in one_line(capsys)
    assert (out / "summary.json").exists()


def test_ctrl_c_in_an_experiment_says_the_same_command_continues_it(tiny_model, mnist_path, tmp_path, monkeypatch,
                                                                    capsys):
    from evoprune.experiments import experiment

    def stopped(job, payload=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "run_job", stopped)  # Ctrl-C in the first run
    tiny_model.save(tmp_path / "model.keras")
    spec = tmp_path / "spec.toml"
    spec.write_text(f'seeds = 1\nbudget = 10\n[data]\npath = "{mnist_path}"\n[model]\npath = "{tmp_path}/model.keras"\n'
                    '[settings]\neval_set = "validation"\n[variants.sa]\nalgorithm = "sa"\n')
    commands = {"experiment run": ["experiment", "run", str(spec)],
                "compare": ["compare", "--model", str(tmp_path / "model.keras"), "--algorithms", "sa", "--seeds", "1",
                            "--budget", "10", "--set", "eval_set=validation", "--data", mnist_path]}
    for i, (command, args) in enumerate(commands.items()):
        args = [*args, "--out", str(tmp_path / f"out{i}"), "--no-progress", "--parallel", "1"]
        capsys.readouterr()
        assert main(args) == 130, command
        line = one_line(capsys)
        assert "same command" in line and "reus" in line and "resum" in line, line
        assert " ".join(["evoprune", *args]) in line, line
