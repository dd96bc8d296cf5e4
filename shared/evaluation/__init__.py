"""Metrics, calibration, plots and the model card of a fine-tuned classifier."""
from shared.evaluation.calibration import apply_temperature, expected_calibration_error, fit_temperature, softmax
from shared.evaluation.metrics import classification_metrics
from shared.evaluation.plots import plot_confusion_matrix, plot_roc_curves, plot_training_curves

__all__ = [
    "apply_temperature",
    "classification_metrics",
    "expected_calibration_error",
    "fit_temperature",
    "plot_confusion_matrix",
    "plot_roc_curves",
    "plot_training_curves",
    "softmax",
]
