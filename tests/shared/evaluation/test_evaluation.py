"""Calibration, metrics and plots, against hand-computed cases and scikit-learn."""
from __future__ import annotations

import json

import numpy as np
import pytest
from core_testlib import assert_png

from shared.evaluation import (
    apply_temperature,
    classification_metrics,
    expected_calibration_error,
    fit_temperature,
    plot_confusion_matrix,
    plot_roc_curves,
    plot_training_curves,
    softmax,
)

# --------------------------------------------------------------------------- calibration


def _calibrated_sample(temperature: float, n: int = 6000, k: int = 4, seed: int = 0):
    """Logits z and labels drawn from softmax(z / temperature): calibrated at that temperature."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(n, k))
    probs = softmax(logits / temperature)
    labels = np.array([rng.choice(k, p=p) for p in probs])
    return logits, labels


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_fit_temperature_recovers_a_known_temperature(true_t):
    logits, labels = _calibrated_sample(true_t)
    fitted = fit_temperature(logits, labels)
    assert abs(fitted - true_t) / true_t < 0.15, fitted


def test_fit_temperature_of_no_data_is_one():
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 1.0


def test_apply_temperature_is_softmax_of_scaled_logits():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    probs = apply_temperature(logits, 2.0)
    expected = np.exp(logits / 2) / np.exp(logits / 2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    np.testing.assert_allclose(softmax(np.array([[1000.0, 0.0]])), [[1.0, 0.0]])  # no overflow


def test_ece_small_when_calibrated_large_when_over_confident():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3) * 0.7, size=20000)
    labels = np.array([rng.choice(3, p=p) for p in probs])
    assert expected_calibration_error(probs, labels) < 0.02

    # Sharpen the same probabilities: confidence rises, accuracy stays the same.
    sharp = probs ** 4 / (probs ** 4).sum(axis=1, keepdims=True)
    assert expected_calibration_error(sharp, labels) > 0.1


def test_ece_of_a_hand_computed_case():
    # One bin (0.9-ish confidence), 4 examples, 3 correct: |0.9 - 0.75| = 0.15.
    probs = np.array([[0.9, 0.1]] * 4)
    labels = np.array([0, 0, 0, 1])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.15)

    # Gaps of opposite sign in different bins do not cancel: 0.9-confident and half right,
    # 0.6-confident and always right. Overall confidence = accuracy = 0.75, yet ECE = 0.4.
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)


def test_temperature_scaling_lowers_ece_of_over_confident_logits():
    logits, labels = _calibrated_sample(3.0, n=8000, seed=2)
    fit_logits, fit_labels = logits[:4000], labels[:4000]
    held_logits, held_labels = logits[4000:], labels[4000:]
    raw_ece = expected_calibration_error(softmax(held_logits), held_labels)
    temperature = fit_temperature(fit_logits, fit_labels)
    scaled_ece = expected_calibration_error(apply_temperature(held_logits, temperature), held_labels)
    assert temperature > 1.0  # over-confident logits are softened
    assert raw_ece > 0.1
    assert scaled_ece < raw_ece / 3


# --------------------------------------------------------------------------- metrics


def test_classification_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 0])
    predicted = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2, 0])
    probs = np.full((len(labels), 4), 0.1)
    probs[np.arange(len(labels)), predicted] = 0.7  # 4 columns: label 'd' is never seen
    names = ["a", "b", "c", "d"]
    m = classification_metrics(labels, probs, names)

    p, r, f, s = precision_recall_fscore_support(labels, predicted, labels=[0, 1, 2, 3], zero_division=0)
    for i, name in enumerate(names):
        assert m["per_class"][name] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]})
    assert m["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    macro = precision_recall_fscore_support(labels, predicted, labels=[0, 1, 2, 3], average="macro",
                                            zero_division=0)
    assert m["macro_f1"] == pytest.approx(macro[2])
    assert m["n_examples"] == 10
    assert np.asarray(m["confusion_matrix"]).shape == (4, 4)
    assert m["confusion_matrix"] == confusion_matrix(labels, predicted, labels=[0, 1, 2, 3]).tolist()
    assert 0.0 <= m["roc_auc_macro"] <= 1.0
    json.dumps(m)  # metrics.json material: plain JSON types only


def test_binary_metrics_roc_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    labels = np.array([0, 1, 1, 0, 1, 0])
    p1 = np.array([0.2, 0.8, 0.4, 0.3, 0.9, 0.6])
    m = classification_metrics(labels, np.stack([1 - p1, p1], axis=1), ["neg", "pos"])
    assert m["roc_auc_macro"] == pytest.approx(roc_auc_score(labels, p1))


# --------------------------------------------------------------------------- plots


def test_plots_are_written_as_png(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=60)
    probs = rng.dirichlet(np.ones(3), size=60)
    matrix = classification_metrics(labels, probs, ["a", "b", "c"])["confusion_matrix"]
    history = [{"loss": 1.0 - 0.1 * i, "step": 5 * i} for i in range(1, 6)]
    history += [{"eval_loss": 0.9, "eval_macro_f1": 0.5, "step": 10}, {"eval_loss": 0.7, "eval_macro_f1": 0.7, "step": 20}]

    assert_png(plot_confusion_matrix(matrix, ["a", "b", "c"], tmp_path / "sub" / "cm.png"))
    assert_png(plot_roc_curves(labels, probs, ["a", "b", "c"], tmp_path / "roc.png"))
    assert_png(plot_training_curves(history, tmp_path / "curves.png"))


def test_roc_plot_tolerates_a_class_absent_from_the_data(tmp_path):
    labels = np.array([0, 1, 0, 1])
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.3, 0.6, 0.1]])
    assert_png(plot_roc_curves(labels, probs, ["a", "b", "never"], tmp_path / "roc.png"))
