"""First-improvement hill climbing: only improvements are taken, the first in proposal order, from the CLI too."""
import json

import pytest

from .fake_problem import Rows, make_search, resumes_identically, true_scores


def make(budget=120, **kw):
    return make_search("hc", budget=budget, delta=0.05, start_sparsity=0.3, scores=true_scores(), **kw)


@pytest.mark.parametrize("neighbours", [1, 3])
def test_the_current_mask_only_ever_improves_and_the_budget_is_exact(neighbours):
    rows, sent = Rows(), []
    state = make(neighbours=neighbours, callbacks=[rows], sent=sent).run()
    # on this 102-bit genome the late, small moves around a local optimum repeat (served by the cache), so the
    # climb may stall a little before the budget
    assert 100 <= state.evaluations == len(sent) == len(set(sent)) <= 120
    costs = [(int(r["feasible"]), float(r["cost"])) for r in rows.rows if r["cost"] != ""]
    # DEAP's order: feasible first, then lower cost; never a step back
    assert all((f2, -c2) >= (f1, -c1) for (f1, c1), (f2, c2) in zip(costs, costs[1:]))
    assert costs[-1] > costs[0] or costs[-1][1] < costs[0][1]  # it climbed
    assert 1.0 - sum(m.sum() for m in state.masks.values()) / sum(m.size for m in state.masks.values()) > 0.3


def test_the_first_improving_neighbour_in_proposal_order_is_taken():
    from evoprune.algorithms.base import better

    search = make(neighbours=4, budget=80)
    algo, steps = search.algorithm, []
    plain_step = algo.step

    def logged_step(s, state):
        before, batch, plain_evaluate = s.toolbox.clone(state.current), [], s.evaluate
        s.evaluate = lambda inds, **kw: (batch.extend(inds), plain_evaluate(inds, **kw))[1]
        plain_step(s, state)
        s.evaluate = plain_evaluate
        steps.append((before, batch, state.current))

    algo.step = logged_step
    search.run()
    taken = 0
    for before, batch, after in steps:
        assert len(batch) == 4  # the neighbours go to toolbox.map together
        improving = [n for n in batch if n.fitness.valid and better(n, before)]
        if improving:
            assert after is improving[0]
            taken += 1
        else:
            assert bytes(after) == bytes(before)
    assert taken > 3


def test_saved_state_continues_identically():
    resumes_identically(lambda **kw: make(neighbours=2, **kw))


@pytest.mark.slow
def test_prune_and_compare_run_hc_from_the_command_line(tiny_model, small_mnist, mnist_path, tmp_path):
    from evoprune.cli import main

    model = tmp_path / "model.keras"
    tiny_model.save(model)
    out = tmp_path / "hc"
    assert main(["prune", "--model", str(model), "--algorithm", "hc", "--data", mnist_path, "--budget", "30",
                 "--set", "neighbours=2", "--set", "eval_set=validation", "--out", str(out), "--no-progress"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["algorithm"] == "hc" and run["config"]["neighbours"] == 2
    assert json.loads((out / "summary.json").read_text())["evaluations"] == 30
    cmp = tmp_path / "cmp"
    assert main(["compare", "--algorithms", "sa,hc", "--seeds", "1", "--model", str(model), "--data", mnist_path,
                 "--budget", "20", "--set", "eval_set=validation", "--set", "importance=none", "--out", str(cmp),
                 "--no-progress"]) == 0
    assert "hc" in (cmp / "summary.md").read_text()
    assert main(["prune", "--model", str(model), "--algorithm", "sa", "--data", mnist_path, "--set", "neighbours=2",
                 "--out", str(tmp_path / "bad"), "--no-progress"]) == 2  # not an SA setting
