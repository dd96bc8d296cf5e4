"""Classification metrics from true labels and predicted probabilities (scikit-learn)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from shared.evaluation.calibration import expected_calibration_error


def classification_metrics(labels: np.ndarray, probs: np.ndarray, label_names: list[str]) -> dict:
    """Accuracy, macro and per-class precision/recall/F1, ECE, macro ROC AUC and the confusion matrix.

    ``labels`` are integer ids into ``label_names``; ``probs`` has one column per label.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    ids = list(range(len(label_names)))
    predicted = probs.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=ids, zero_division=0
    )
    macro = precision_recall_fscore_support(
        labels, predicted, labels=ids, average="macro", zero_division=0
    )
    present = sorted(set(labels.tolist()))
    roc_auc = None
    if len(present) > 1:
        try:
            if len(label_names) == 2:
                roc_auc = float(roc_auc_score(labels, probs[:, 1]))
            else:
                roc_auc = float(
                    roc_auc_score(labels, probs[:, present] / probs[:, present].sum(1, keepdims=True),
                                  labels=present, multi_class="ovr", average="macro")
                )
        except ValueError:
            roc_auc = None
    return {
        "n_examples": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predicted)) if len(labels) else 0.0,
        "macro_precision": float(macro[0]),
        "macro_recall": float(macro[1]),
        "macro_f1": float(macro[2]),
        "ece": expected_calibration_error(probs, labels),
        "roc_auc_macro": roc_auc,
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(label_names)
        },
        "confusion_matrix": confusion_matrix(labels, predicted, labels=ids).tolist(),
    }
