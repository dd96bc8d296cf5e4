"""The classifiers a product needs: declared by the product, fine-tuned by the app.

A product says what to train (its data loader, the hyperparameters per profile); `nlpsuite run`
fine-tunes each once, caches it under ``var/models/<name>-<profile>`` and hands the folder back
in ``SuiteContext.models``. So the core names no dataset, and the app knows no product's data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

PROFILE_NAMES = ("quick", "full")
"""quick: minutes on a 2-core laptop; full: the benchmark hyperparameters (docs/benchmarks.md)."""


@dataclass
class ClassifierSpec:
    """A classifier a product needs: fine-tuned once by `nlpsuite run`, cached under
    ``var/models/<name>-<profile>`` and exported to int8 ONNX next to it."""

    name: str
    """The task's key: ``suite.models.<name>`` points at a ready folder instead of training."""
    title: str
    """What it is, for the plan `nlpsuite run` prints (e.g. "intent model: BANKING77 + the bot's own")."""
    load_data: Callable[[], dict]
    """Returns ``{"train": LabelledTexts}`` plus optional ``"validation"`` and ``"test"``."""
    profiles: dict
    """Profile name -> ``FineTuneArgs``; every name of ``PROFILE_NAMES``."""
    expected_minutes: dict
    """Profile name -> minutes it took on 2 cores, printed so that nobody wonders whether it hangs."""
    demo_texts: tuple = ()
    """Classified by `nlpsuite run --prepare-only` to show the model at work."""
