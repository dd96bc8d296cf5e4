"""The model card: README.md in the model folder, written from the manifest and metrics."""
from __future__ import annotations

from pathlib import Path


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_model_card(folder: Path, info, metrics: dict) -> Path:
    """A human-readable summary: base model, data hash, hyperparameters, metrics, plots."""
    folder = Path(folder)
    hp = info.hyperparameters
    lines = [
        f"# {folder.name}",
        "",
        f"A `{info.head}` model trained by nlpsuite's **{info.recipe}** recipe from **{info.base_model}** "
        f"on {hp.get('train_examples', '?')} examples ({len(info.labels)} labels).",
        "",
        "| | |",
        "|---|---|",
        f"| base model | `{info.base_model}` |",
        f"| recipe | `{info.recipe}` (shared.training.recipes) |",
        f"| training data SHA-256 | `{info.data_sha256}` |",
        f"| calibration temperature | {info.temperature:.3f} (fitted on validation) |",
        f"| max sequence length | {info.max_length} |",
        f"| created | {info.created} |",
        "",
        "## Hyperparameters",
        "",
        "| name | value |",
        "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in sorted(hp.items())],
        "",
        f"## Metrics ({metrics.get('evaluated_on', 'test')} set, n={metrics.get('n_examples')})",
        "",
        "| metric | value |",
        "|---|---|",
        *[
            f"| {k} | {_fmt(metrics[k])} |"
            for k in ("accuracy", "macro_precision", "macro_recall", "macro_f1", "roc_auc_macro",
                      "ece", "ece_uncalibrated")
            if k in metrics and metrics[k] is not None
        ],
        "",
        "ECE is measured on calibrated probabilities (softmax of logits / temperature).",
        "",
        "## Per class",
        "",
        "| label | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
        *[
            f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |"
            for label, m in metrics.get("per_class", {}).items()
        ],
        "",
    ]
    plots = metrics.get("plots", {})
    if plots:
        lines += ["## Plots", ""] + [f"![{k}](plots/{v})" for k, v in plots.items()]
        if (folder / "plots" / "training_curves.png").is_file():
            lines += ["![training curves](plots/training_curves.png)", ""]
    path = folder / "README.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
