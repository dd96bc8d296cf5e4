"""Fine-tuning: documented arguments, a Trainer subclass, and the end-to-end ``finetune``.

The names load on first use: ``FineTuneArgs`` alone (the CLI's options, the products'
profiles) costs no torch or transformers import.
"""
from __future__ import annotations

from shared.lazy import lazy_exports

_HOMES = {"FineTuneArgs": "args", "FineTuneResult": "pipeline", "finetune": "pipeline",
          "ClassificationTrainer": "trainer"}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
