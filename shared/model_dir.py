"""The layout of a fine-tuned model folder and its ``nlpsuite.json`` manifest.

Every tool that consumes a model (Predictor, exporters, the apps) reads the labels, the
calibration temperature and the sequence length from the manifest instead of guessing them,
so a folder copied to another machine predicts exactly as it did where it was trained.
This module imports no torch: the onnxruntime deployment reads it too.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from shared.errors import NlpSuiteError

MANIFEST = "nlpsuite.json"
METRICS = "metrics.json"
PLOTS = "plots"
TENSORBOARD_DIR = "runs"
"""TensorBoard event files of the training run (``tensorboard --logdir <folder>/runs``)."""


class ModelFolderError(NlpSuiteError, FileNotFoundError):
    """A folder that is not a usable nlpsuite model folder."""


@dataclass
class ModelInfo:
    """The manifest ``nlpsuite.json``: what a consumer must know to use a folder exactly as it was trained."""

    labels: list[str]
    head: str = "sequence-classification"
    base_model: str = ""
    max_length: int = 64
    temperature: float = 1.0
    onnx_file: str | None = None
    confidence_threshold: float | None = None
    head_file: str | None = None
    """A head taught after training (``shared.teaching``): ``onnx_file`` is then the encoder's
    feature graph and the logits are features @ weight.T + bias from this ``.npz``."""
    spelling_file: str | None = None
    """The training vocabulary for spelling correction at inference, when trained with it."""
    data_sha256: str = ""
    recipe: str = "full"
    """How it was trained (``shared.training.recipes``): full, probe, lp-ft or contrastive."""
    hyperparameters: dict = field(default_factory=dict)
    created: str = ""
    format_version: int = 1

    def save(self, folder: str | Path) -> Path:
        """Write the manifest into ``folder``; its path."""
        path = Path(folder) / MANIFEST
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> "ModelInfo":
        """Read ``folder``'s manifest; a missing or broken one is a ModelFolderError that says how to make one."""
        path = Path(folder) / MANIFEST
        if not path.is_file():
            raise ModelFolderError(
                f"{folder} is not an nlpsuite model folder: {MANIFEST} is missing "
                "(make one with `nlpsuite finetune` or `nlpsuite export`)"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelFolderError(f"{path}: not valid JSON ({exc})") from exc
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "labels" not in known:
            raise ModelFolderError(f"{path}: field 'labels' is missing")
        return cls(**known)
