"""The classifiers a product needs: declared by the product, trained by the app.

A product says what to train (its data loader, the first version's arguments, the
hyperparameters per profile); `nlpsuite run` serves each from a versions folder
``var/models/<name>`` (``shared.model_versions``): the ``first`` version within minutes, the
profile's recipe swapped in live once it beats it on validation. The folder is handed back in
``SuiteContext.models``. So the core names no dataset, and the app knows no product's data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

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
    """Profile name -> ``FineTuneArgs`` of the recipe that won on validation data (bench.recipe);
    every name of ``PROFILE_NAMES``. Trained in the background while the first version serves."""
    expected_minutes: dict
    """Profile name -> minutes it took on 2 cores, printed so that nobody wonders whether it hangs."""
    first: object = None
    """``FineTuneArgs`` of the version a first run serves within minutes (the probe recipe: frozen
    int8 features and a logistic head); None: the profile's version is trained before serving."""
    first_minutes: float = 1.0
    """Minutes the first version takes on 2 cores."""
    demo_texts: tuple = ()
    """Classified by `nlpsuite run --prepare-only` to show the model at work."""
    carry_over: Optional[Callable] = None
    """``carry_over(versions, version) -> version``: called with a version trained in the background
    before it may replace the served one. A product whose served model learns while it runs (labels
    taught since the training data were read) returns a version that keeps what was learned."""
