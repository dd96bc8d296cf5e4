"""Temperature scaling and expected calibration error.

A fine-tuned transformer is over-confident: its softmax says 0.99 where it is right 90% of
the time. The chatbot's fallback threshold and the monitor's alert rules read confidences as
probabilities, so every model fits one temperature on its validation logits (Guo et al. 2017,
"On Calibration of Modern Neural Networks") and serves ``softmax(logits / T)``.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable (the row maximum is subtracted first)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Calibrated probabilities: softmax of ``logits / temperature`` (the temperature fitted on validation data)."""
    return softmax(np.asarray(logits, dtype=np.float64) / float(temperature))


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    probs = apply_temperature(logits, temperature)
    picked = probs[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimises the negative log-likelihood."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0 or (logits.argmax(axis=1) == labels).all():
        # Without a single validation error the likelihood keeps rising as T -> 0, which
        # would make every confidence 1.0 and no threshold could ever reject; keep T = 1.
        return 1.0
    result = minimize_scalar(
        lambda log_t: _nll(logits, labels, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    return float(np.exp(result.x))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE: the confidence-weighted gap between confidence and accuracy, over equal-width bins."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(ece)
