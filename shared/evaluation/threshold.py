"""Choosing the confidence below which a classifier abstains instead of answering.

Every fine-tuned folder records one, chosen on its validation data (``confidence_threshold`` in
the manifest): the bot's "I did not understand" (then the FAQ search or a person), a device
bundle's ``abstain`` flag.

A wrong answer costs a customer more than an honest "I'm not sure" (which leads on to the FAQ
search or a person), so the threshold maximises, on held-out validation data,

    utility(t) = #correct answers accepted - wrong_cost * #wrong answers accepted

over a grid of thresholds. With calibrated confidences and wrong_cost=1 this lands near 0.5,
where an accepted answer is more likely right than wrong. Ties go to the lowest threshold
(fewest needless fallbacks).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ThresholdChoice:
    threshold: float
    coverage: float  # share of validation messages answered (not sent to the fallback)
    accepted_accuracy: float  # accuracy on the answered ones
    overall_accuracy: float
    n_validation: int
    wrong_cost: float

    def to_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def choose_threshold(confidences, correct, *, wrong_cost: float = 1.0, low: float = 0.2,
                     high: float = 0.95, step: float = 0.01) -> ThresholdChoice:
    """The grid threshold in [low, high] with the best accept/reject utility (see module doc)."""
    conf = np.asarray(confidences, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    if conf.shape != ok.shape:
        raise ValueError(f"{conf.shape[0]} confidences but {ok.shape[0]} correctness flags")
    if conf.size == 0:
        return ThresholdChoice(low, 0.0, 0.0, 0.0, 0, wrong_cost)
    grid = np.round(np.arange(low, high + step / 2, step), 4)
    accepted = conf[None, :] >= grid[:, None]
    utility = (accepted & ok).sum(1) - wrong_cost * (accepted & ~ok).sum(1)
    best = int(np.argmax(utility))  # first maximum = lowest threshold among ties
    taken = accepted[best]
    return ThresholdChoice(
        threshold=float(grid[best]),
        coverage=float(taken.mean()),
        accepted_accuracy=float(ok[taken].mean()) if taken.any() else 0.0,
        overall_accuracy=float(ok.mean()),
        n_validation=int(conf.size),
        wrong_cost=wrong_cost,
    )
