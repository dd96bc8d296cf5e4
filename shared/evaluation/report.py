"""Turn logits on a labelled set into calibrated metrics, plots and a metrics.json section."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.evaluation.calibration import apply_temperature, expected_calibration_error
from shared.evaluation.metrics import classification_metrics
from shared.evaluation.plots import plot_confusion_matrix, plot_roc_curves


def evaluate_logits(
    logits: np.ndarray,
    label_ids: np.ndarray,
    label_names: list[str],
    *,
    temperature: float = 1.0,
    plot_dir: Path | None = None,
    name: str = "test",
) -> dict:
    """Metrics of calibrated probabilities; with ``plot_dir``, the confusion matrix and ROC PNGs."""
    logits = np.asarray(logits, dtype=np.float64)
    probs = apply_temperature(logits, temperature)
    metrics = classification_metrics(label_ids, probs, label_names)
    metrics["ece_uncalibrated"] = expected_calibration_error(apply_temperature(logits, 1.0), label_ids)
    metrics["temperature"] = float(temperature)
    if plot_dir is not None:
        plot_dir = Path(plot_dir)
        metrics["plots"] = {
            "confusion_matrix": str(plot_confusion_matrix(
                metrics["confusion_matrix"], label_names, plot_dir / f"confusion_matrix_{name}.png",
                title=f"Confusion matrix ({name}, n={len(label_ids)})").name),
            "roc": str(plot_roc_curves(label_ids, probs, label_names, plot_dir / f"roc_{name}.png").name),
        }
    return metrics
