"""The Predictor on the tiny fine-tuned model: calibrated, ordered, typed, with clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from core_testlib import LABELS

from shared.evaluation import apply_temperature
from shared.model_dir import MANIFEST, ModelFolderError


def _metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text(encoding="utf-8"))


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
