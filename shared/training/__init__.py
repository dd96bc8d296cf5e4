"""Fine-tuning: documented arguments, a Trainer subclass, and the end-to-end ``finetune``.

The names load on first use: ``FineTuneArgs`` alone (the CLI's options, the products'
profiles) costs no torch or transformers import.
"""
from __future__ import annotations

import importlib

_HOMES = {"FineTuneArgs": "args", "FineTuneResult": "pipeline", "finetune": "pipeline",
          "ClassificationTrainer": "trainer"}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'shared.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"shared.training.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
