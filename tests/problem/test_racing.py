"""Racing: the early-drop rule's error rate on synthetic data stays within what it claims, and it drops the hopeless."""
from dataclasses import dataclass

import numpy as np
import pytest

from evoprune.evaluation.engine import STAGES
from evoprune.problem.objectives import AccuracyFloor

N, DELTA, CONFIDENCE = 5000, 0.005, 0.999


@dataclass(frozen=True)
class Seen:
    """What the rule sees of a candidate: per-image matches on the first `images` search images."""

    images: int
    matches: bytes
    error: None = None


def scenario(lost: int, gained: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and candidate 0/1 matches on N images (97 % right), with `lost` and `gained` images, shuffled."""
    base = np.zeros(N, bool)
    base[: int(0.97 * N)] = True
    cand = base.copy()
    cand[:lost] = False                          # right before, wrong now
    cand[N - gained:] = True                     # wrong before, right now
    order = rng.permutation(N)
    return base[order], cand[order]


def drops(lost: int, gained: int, trials: int, seed: int) -> float:
    """The share of `trials` image orders in which the rule drops the candidate at some stage."""
    rng = np.random.default_rng(seed)
    dropped = 0
    for _ in range(trials):
        base, cand = scenario(lost, gained, rng)
        full = Seen(N, np.packbits(base).tobytes())
        floor = AccuracyFloor(float(base.mean()), DELTA, confidence=0.95, baseline=full)
        for f in STAGES:
            n = round(f * N)
            if not floor.could_hold(Seen(n, np.packbits(cand[:n]).tobytes()), 0, CONFIDENCE):
                dropped += 1
                break
    return dropped / trials


def test_a_mask_exactly_at_the_allowed_drop_is_dropped_no_more_often_than_claimed():
    # The rule's null hypothesis is a drop of at most delta on all the images; at exactly delta each look
    # drops with probability about 1 − confidence, so at most (stages) × (1 − confidence) in all.
    claim = len(STAGES) * (1 - CONFIDENCE)
    trials = 4000
    rate = drops(lost=40, gained=15, trials=trials, seed=0)  # (40 − 15) / 5000 = 0.005 = delta
    assert rate <= claim + 3 * np.sqrt(claim * (1 - claim) / trials), rate


def test_a_mask_that_meets_the_floor_is_almost_never_dropped():
    # Feasible at 95 %: drop + 1.645 SE <= delta on all 5,000 images.
    assert drops(lost=20, gained=12, trials=2000, seed=1) <= 0.001


@pytest.mark.parametrize("lost, gained", [(150, 10), (400, 30)])
def test_hopeless_masks_are_always_dropped_before_the_end(lost, gained):
    assert drops(lost, gained, trials=200, seed=3) == 1.0


def test_a_mask_losing_seven_points_is_dropped_at_the_first_stage():
    base, cand = scenario(400, 30, np.random.default_rng(2))
    floor = AccuracyFloor(float(base.mean()), DELTA, confidence=0.95, baseline=Seen(N, np.packbits(base).tobytes()))
    n = round(STAGES[0] * N)
    assert not floor.could_hold(Seen(n, np.packbits(cand[:n]).tobytes()), 0, CONFIDENCE)
