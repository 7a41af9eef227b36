"""Certification: a run's answer checked, by a fixed-sequence test, on images no search decision has touched.

A search makes hundreds of decisions on its images and keeps the masks they flatter, so a bound computed
on them is optimistic. The answer is instead chosen among a short list of nested candidate masks, fixed
before any certification image is read: the search's own masks, and the same masks with their pruned
weights restored, most important first, at densities growing geometrically towards the whole model.
They are tested from the densest to the sparsest, each by the paired one-sided test of the floor (the
drop plus z standard errors at most δ); the answer is the last one passing before the first failure.
Testing a fixed sequence and stopping at its first failure keeps the family-wise error at α with no
correction, and the unpruned model (nothing to test) is the answer when the densest candidate fails.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..network import models
from ..network.masks import Masks, full_masks, sparsity_global, sparsity_layer_mean
from ..network.refit import refit
from ..problem.objectives import paired_counts

CANDIDATES = 20  # how many masks are tested (the last is the search's own)


def candidate_masks(masks: Masks, scores: Mapping[str, np.ndarray], count: int = CANDIDATES) -> list[Masks]:
    """`count` nested masks, densest first and `masks` itself last: `masks` with its pruned weights given back in
    the order of `scores` (the highest first; ties by position), keeping d^(j/count) of the weights for
    j = 1..count, d the share `masks` keeps. Made from the masks and scores alone, so fixed before any
    certification image is read."""
    names = list(masks)
    kept = np.concatenate([np.asarray(masks[n], bool).ravel() for n in names])
    score = np.concatenate([np.asarray(scores[n], np.float64).ravel() for n in names])
    pruned = np.flatnonzero(~kept)
    # The most important pruned weights first; a stable sort keeps the order of positions among equal scores.
    order = pruned[np.argsort(-score[pruned], kind="stable")]
    total, held = kept.size, int(kept.sum())
    density = max(held, 1) / total  # (a mask keeping nothing still gets denser candidates)
    out = []
    for j in range(1, count):
        flat = kept.copy()
        flat[order[: max(held, round(total * density ** (j / count))) - held]] = True
        out.append(_unflatten(flat, masks, names))
    return [*out, {n: np.asarray(masks[n], bool).copy() for n in names}]


def _unflatten(flat: np.ndarray, like: Masks, names: list[str]) -> Masks:
    out, start = {}, 0
    for n in names:
        size = np.asarray(like[n]).size
        out[n] = flat[start:start + size].reshape(np.shape(like[n]))
        start += size
    return out


@dataclass(frozen=True)
class Test:
    """One candidate's paired one-sided test on the certification images."""

    sparsity_global: float
    accuracy: float
    drop: float
    standard_error: float
    bound: float  # drop + z · standard error
    passed: bool  # bound ≤ δ

    def to_dict(self) -> dict:
        return asdict(self)


def paired_test(base: np.ndarray, mine: np.ndarray, delta: float,
                confidence: float) -> tuple[float, float, float, bool]:
    """(drop, SE, bound, passed) of per-image correctness `mine` against `base`: passed when drop + z·SE ≤ δ."""
    drop, error = paired_counts(np.asarray(base, bool), np.asarray(mine, bool))
    bound = drop + NormalDist().inv_cdf(confidence) * error
    return drop, error, bound, bound <= delta + 1e-12


def fixed_sequence(passed: Sequence[bool]) -> int:
    """The index of the answer: the last test passed before the first failure, in order; -1 when the first fails
    (the unpruned model)."""
    answer = -1
    for i, ok in enumerate(passed):
        if not ok:
            break
        answer = i
    return answer


def certify(candidates: Sequence[Masks], correct: Callable[[Masks | None], np.ndarray], delta: float,
            confidence: float) -> tuple[int, list[Test]]:
    """Test every candidate (densest first) against the unpruned model on the certification images; the answer's
    index by `fixed_sequence` (-1: the unpruned model) and every candidate's test, for the record.

    `correct(masks)` gives per-image correctness on the certification images of the model a run would give for
    `masks` (its re-fitted weights where the run re-fits), `correct(None)` the unpruned model's.
    """
    base = correct(None)
    tests = []
    for masks in candidates:
        mine = correct(masks)
        drop, error, bound, ok = paired_test(base, mine, delta, confidence)
        tests.append(Test(sparsity_global(masks), float(np.mean(mine)), drop, error, bound, ok))
    return fixed_sequence([t.passed for t in tests]), tests


def smallest_bound(images: int, confidence: float) -> float:
    """The bound of the least a pruned model can lose on `images` certification images: one image, and no other
    changed. Above δ, no mask that changes any answer can pass."""
    if images < 1:
        return float("inf")
    drop = 1.0 / images
    return drop + NormalDist().inv_cdf(confidence) * ((drop - drop * drop) / images) ** 0.5


def check_images(images: int, delta: float, confidence: float) -> None:
    """Refuse, before a search, certification images too few for any pruned mask to pass at δ."""
    least = smallest_bound(images, confidence)
    if least > delta:
        raise ConfigError(f"{images} certification images are too few to certify any pruning at delta {delta:g}: "
                          f"losing a single image already bounds the drop at {least:.4f} at confidence "
                          f"{confidence:g}; give certification more images (--certify-fraction, --certify-from; in "
                          "Python, certification=(x, y)) or run uncertified (--no-certify; certify=False)")


def correct(model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether `model` gets each image right (its highest output is the label)."""
    return np.argmax(model.predict(x, batch_size=1024, verbose=0), axis=-1) == np.asarray(y)


@dataclass
class Answer:
    """A certified run's answer: its masks, the model a run gives for them, and summary.json's record of it."""

    masks: Masks
    model: object
    record: dict


def certify_run(model, masks: Masks, scores: Mapping[str, np.ndarray], certification: tuple, test: tuple,
                config, refit_images: np.ndarray | None = None) -> Answer:
    """Certify a run whose search found `masks`: candidates from them and `scores`, tested on the `certification`
    images (x, y); the answer's test figures on `test` (x, y). With `refit_images` every candidate's kept weights
    are re-fitted on them, as the run's own answer is, and that model is what is tested."""
    fit = refit_images

    def model_for(m: Masks | None):
        if m is None:
            return model
        return models.masked_copy(model, m) if fit is None else refit(model, m, fit)[0]

    candidates = candidate_masks(masks, scores)
    x_cert, y_cert = certification
    index, tests = certify(candidates, lambda m: correct(model_for(m), x_cert, y_cert), config.delta,
                           config.confidence)
    chosen = candidates[index] if index >= 0 else full_masks(models.prunable_layers(model))
    answer = model_for(chosen) if index >= 0 else models.clone(model)
    x_test, y_test = test
    drop, error = paired_counts(correct(model, x_test, y_test), correct(answer, x_test, y_test))
    record = {"images": len(y_cert), "delta": config.delta, "confidence": config.confidence,
              "answer": index, "sparsity_global": sparsity_global(chosen),
              "sparsity_layer_mean": sparsity_layer_mean(chosen),
              **({"drop": tests[index].drop, "standard_error": tests[index].standard_error,
                  "bound": tests[index].bound} if index >= 0 else {"drop": 0.0, "standard_error": 0.0, "bound": 0.0}),
              "test_drop": drop, "test_drop_standard_error": error,
              "candidates": [t.to_dict() for t in tests]}
    return Answer(chosen, answer, record)
