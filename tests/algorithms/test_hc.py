"""First-improvement hill climbing: only improvements are taken, the first in proposal order, from the CLI too."""
import json

import pytest

from .fake_problem import TOTAL, Rows, make_search, resumes_identically, true_scores


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
                 "--no-progress", "--parallel", "1"]) == 0
    assert "hc" in (cmp / "summary.md").read_text()
    assert main(["prune", "--model", str(model), "--algorithm", "sa", "--data", mnist_path, "--set", "neighbours=2",
                 "--out", str(tmp_path / "bad"), "--no-progress"]) == 2  # not an SA setting


def test_a_stepped_down_start_is_refined_by_bisection_toward_the_constraint():
    import numpy as np

    from evoprune.network.masks import unpack

    def run(refine):
        sent, rows = [], Rows()
        make_search("hc", budget=12, delta=0.05, start_sparsity=0.9, start_refine=refine, scores=true_scores(),
                    sent=sent, callbacks=[rows]).run()
        return [1.0 - unpack(np.frombuffer(p, np.uint8), TOTAL).mean() for p in sent], rows.rows[0]

    plain, plain_row = run(0)
    refined, row = run(3)
    # the unpruned genome, the start (infeasible at delta 0.05), then its half (feasible): as without refining
    assert plain[:3] == refined[:3] and plain[1] > 0.85 and 0.4 < plain[2] < 0.5
    assert plain[3] > plain[2]  # without refining, the climb starts from the half
    # then three bisections: the first halfway (3/4 of 0.9), each inside the bracket the ones before left
    probes = refined[3:6]
    assert abs(probes[0] - 0.675) < 0.01
    low, high = refined[2], refined[1]
    for p in probes:
        assert low < p < high
        feasible = p <= float(row["sparsity_global"]) + 1e-9
        low, high = (p, high) if feasible else (low, p)
    # the climb starts from the sparsest feasible probe, far above the plain start's half
    assert int(row["feasible"]) == 1 and float(row["sparsity_global"]) >= max(refined[2], low) - 1e-9
    assert float(row["sparsity_global"]) > float(plain_row["sparsity_global"]) + 0.03
