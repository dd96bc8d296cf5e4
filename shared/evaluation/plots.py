"""PNG plots people would rather look at than read: training curves, confusion matrix, ROC."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import auc, roc_curve  # noqa: E402


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_training_curves(log_history: list[dict], path: Path) -> Path:
    """Training loss per logging step; validation loss and macro-F1 per evaluation."""
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h and "step" in h]
    evals = [h for h in log_history if "eval_loss" in h]
    fig, loss_ax = plt.subplots(figsize=(7, 4))
    if train:
        loss_ax.plot(*zip(*train), label="training loss", color="tab:blue", alpha=0.8)
    if evals:
        loss_ax.plot([h["step"] for h in evals], [h["eval_loss"] for h in evals],
                     "o-", label="validation loss", color="tab:orange")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("loss")
    f1_ax = loss_ax.twinx()
    if evals and "eval_macro_f1" in evals[0]:
        f1_ax.plot([h["step"] for h in evals], [h["eval_macro_f1"] for h in evals],
                   "s--", label="validation macro-F1", color="tab:green")
        f1_ax.set_ylim(0, 1)
    f1_ax.set_ylabel("macro-F1")
    handles = loss_ax.get_legend_handles_labels()[0] + f1_ax.get_legend_handles_labels()[0]
    if handles:
        loss_ax.legend(handles=handles, loc="center right")
    loss_ax.set_title("Fine-tuning")
    return _save(fig, path)


def plot_confusion_matrix(matrix, label_names: list[str], path: Path, title: str = "Confusion matrix") -> Path:
    """Row-normalised confusion matrix; counts are written in the cells of small matrices."""
    cm = np.asarray(matrix, dtype=np.float64)
    n = len(label_names)
    rows = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
    size = min(4 + 0.22 * n, 24)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    font = 9 if n <= 12 else max(3, 9 - n // 12)
    ax.set_xticklabels(label_names, rotation=90, fontsize=font)
    ax.set_yticklabels(label_names, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 12:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center",
                        color="white" if rows[i, j] > 0.5 else "black", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_title(title)
    return _save(fig, path)


def plot_roc_curves(labels, probs, label_names: list[str], path: Path) -> Path:
    """One-vs-rest ROC curve per class (named in the legend when there are few) and the micro average."""
    labels = np.asarray(labels)
    probs = np.asarray(probs)
    n = len(label_names)
    onehot = np.eye(n)[labels] if len(labels) else np.zeros((0, n))
    fig, ax = plt.subplots(figsize=(6, 6))
    few = n <= 10
    for i, name in enumerate(label_names):
        if onehot[:, i].min(initial=1) == onehot[:, i].max(initial=0):
            continue  # a class absent from (or alone in) the data has no ROC curve
        fpr, tpr, _ = roc_curve(onehot[:, i], probs[:, i])
        ax.plot(fpr, tpr, lw=1.2 if few else 0.6, alpha=0.9 if few else 0.35,
                label=f"{name} (AUC {auc(fpr, tpr):.3f})" if few else None)
    if len(labels):
        fpr, tpr, _ = roc_curve(onehot.ravel(), probs.ravel())
        ax.plot(fpr, tpr, color="black", lw=2, label=f"micro average (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("One-vs-rest ROC" + ("" if few else f" ({n} classes)"))
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)
