"""finetune end to end on the tiny BERT of conftest.py: metrics, plots, manifest, card, errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from core_testlib import LABELS, assert_png, make_rows, tiny_args, write_csv

from shared.data import DataError, LabelledTexts, load_labelled
from shared.model_dir import MANIFEST, ModelInfo

# --------------------------------------------------------------------------- finetune (tiny model)


def _metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text(encoding="utf-8"))


def test_finetune_writes_metrics_with_the_documented_keys(tiny_model, tiny_data):
    metrics = _metrics(tiny_model)
    assert {"accuracy", "macro_f1", "per_class", "ece"} <= set(metrics)
    assert set(metrics["per_class"]) == set(LABELS)
    assert metrics["evaluated_on"] == "test"
    assert metrics["n_examples"] == len(tiny_data.test_rows)
    assert sum(c["support"] for c in metrics["per_class"].values()) == len(tiny_data.test_rows)


def test_finetuned_tiny_model_is_well_above_chance(tiny_model):
    metrics = _metrics(tiny_model)
    chance = 1 / len(LABELS)
    assert metrics["accuracy"] >= 2.4 * chance, metrics["accuracy"]  # >= 0.8
    assert metrics["macro_f1"] >= 0.75


def test_finetune_writes_plots(tiny_model):
    plots = tiny_model / "plots"
    for name in ("training_curves.png", "confusion_matrix_test.png", "roc_test.png"):
        assert_png(plots / name)
    assert _metrics(tiny_model)["plots"] == {"confusion_matrix": "confusion_matrix_test.png", "roc": "roc_test.png"}


def test_finetune_leaves_a_clean_deployable_folder(tiny_model):
    for name in ("config.json", "model.safetensors", "tokenizer.json", MANIFEST, "README.md"):
        assert (tiny_model / name).is_file(), name
    assert not (tiny_model / "checkpoints").exists()


def test_model_card_names_base_model_and_data_hash(tiny_model, tiny_base):
    info = ModelInfo.load(tiny_model)
    card = (tiny_model / "README.md").read_text(encoding="utf-8")
    assert str(tiny_base) in card
    assert len(info.data_sha256) == 64 and info.data_sha256 in card
    assert f"{_metrics(tiny_model)['accuracy']:.4f}" in card


def test_manifest_labels_sorted_and_hyperparameters_recorded(tiny_model, tiny_base, tiny_data):
    info = ModelInfo.load(tiny_model)
    assert info.labels == sorted(info.labels) == LABELS
    assert info.base_model == str(tiny_base)
    assert info.head == "sequence-classification"
    assert 0.05 <= info.temperature <= 20
    assert info.temperature == pytest.approx(_metrics(tiny_model)["temperature"])
    hp = info.hyperparameters
    assert hp["train_examples"] + hp["validation_examples"] == len(tiny_data.train_rows)
    assert hp["learning_rate"] == tiny_args(tiny_base).learning_rate
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["id2label"] == {str(i): label for i, label in enumerate(LABELS)}


def test_data_hash_identifies_the_training_data(tiny_data):
    from shared.training.pipeline import data_sha256

    data = load_labelled(tiny_data.train)
    same = LabelledTexts(list(data.texts), list(data.labels))
    changed = LabelledTexts(list(data.texts), list(data.labels))
    changed.labels[0] = "card" if changed.labels[0] != "card" else "refund"
    assert data_sha256(data) == data_sha256(same)
    assert data_sha256(data) != data_sha256(changed)


def test_training_loss_falls(tiny_model):
    losses = [h["loss"] for h in _metrics(tiny_model)["log_history"] if "loss" in h]
    assert len(losses) >= 3
    assert losses[-1] < 0.6 * losses[0], losses


def test_unknown_test_label_names_file_and_line(tmp_path, tiny_base, tiny_data):
    from shared.training import finetune

    rows = [("please check my card now", "card"), ("send money abroad", "transfer"), ("what is this", "mystery")]
    bad = write_csv(tmp_path / "bad_test.csv", rows)
    with pytest.raises(DataError) as info:
        finetune(load_labelled(tiny_data.train), tiny_args(tiny_base), tmp_path / "out",
                 test=load_labelled(bad))
    err = info.value
    assert err.path == str(bad) and err.line == 4 and err.field == "label"
    assert "bad_test.csv:4" in str(err) and "mystery" in str(err)


def test_single_label_training_data_is_refused(tmp_path, tiny_base):
    from shared.training import finetune

    data = LabelledTexts([f"card text {i}" for i in range(10)], ["card"] * 10, "one_label.csv")
    with pytest.raises(DataError, match="at least two labels"):
        finetune(data, tiny_args(tiny_base), tmp_path / "out")


def test_inverse_frequency_weights():
    from shared.training.trainer import inverse_frequency_weights

    ids = [0] * 6 + [1] * 3 + [2] * 1
    weights = inverse_frequency_weights(ids, 3).numpy()
    counts = np.array([6, 3, 1])
    np.testing.assert_allclose(weights, 10 / (3 * counts), rtol=1e-6)
    # Each class then carries the same total weight.
    np.testing.assert_allclose(weights * counts, np.full(3, 10 / 3), rtol=1e-6)


def test_finetune_with_class_weights_on_skewed_data(tmp_path, tiny_base):
    from shared.training import finetune

    rows = make_rows(40, seed=7, exclude=set())
    counts = {"card": 0, "refund": 0, "transfer": 0}
    skewed = []
    for text, label in rows:  # 40 card, 20 refund, 10 transfer
        if counts[label] < {"card": 40, "refund": 20, "transfer": 10}[label]:
            counts[label] += 1
            skewed.append((text, label))
    train = load_labelled(write_csv(tmp_path / "skewed.csv", skewed))
    result = finetune(train, tiny_args(tiny_base, epochs=2, class_weights=True, validation_size=0.2),
                      tmp_path / "weighted")
    assert ModelInfo.load(result.output_dir).hyperparameters["class_weights"] is True
    assert result.metrics["evaluated_on"] == "validation"
    assert result.metrics["n_examples"] == result.validation_metrics["n_examples"] == 14
    losses = [h["loss"] for h in result.metrics["log_history"] if "loss" in h]
    assert losses and all(np.isfinite(losses))
    assert_png(result.output_dir / "plots" / "confusion_matrix_validation.png")


# --------------------------------------------------------------------------- pair head


def test_pair_head_trains_and_serves_text_pairs(tmp_path, tiny_base, tiny_data):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from shared.inference import Predictor
    from shared.training import finetune

    texts = [t for t, _ in tiny_data.train_rows]
    labels = [label for _, label in tiny_data.train_rows]
    # (query, candidate) -> "yes" when both are about the same topic.
    pairs, relevant = [], []
    for i in range(120):
        j = (i * 7 + 3) % len(texts)
        pairs.append((texts[i], texts[j]))
        relevant.append("yes" if labels[i] == labels[j] else "no")
    train = LabelledTexts(pairs, relevant, "pairs")
    result = finetune(train, tiny_args(tiny_base, head="pair-classification", epochs=1), tmp_path / "pairs")
    info = ModelInfo.load(result.output_dir)
    assert info.head == "pair-classification" and info.labels == ["no", "yes"]

    predictor = Predictor(result.output_dir, "torch", threads=1)
    queries = pairs[:6]
    got = predictor.logits(queries)
    # The Predictor must encode a pair exactly as training did: [CLS] a [SEP] b [SEP], segment ids 0/1.
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    model = AutoModelForSequenceClassification.from_pretrained(result.output_dir).eval()
    with torch.inference_mode():
        for (first, second), row in zip(queries, got):
            encoded = tokenizer(first, second, return_tensors="pt")
            np.testing.assert_allclose(row, model(**encoded).logits[0].numpy(), atol=1e-5)
    # Lists are accepted as pairs too; a three-text item is not.
    np.testing.assert_allclose(predictor.logits([list(queries[0])]), got[:1], atol=1e-6)
    with pytest.raises(TypeError):
        predictor.predict([("a", "b", "c")])
