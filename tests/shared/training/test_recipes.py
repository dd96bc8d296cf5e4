"""The recipes (shared.training.recipes) on the tiny BERT: one folder layout, heads that serve
as fitted, lp-ft starting from the probe, the contrastive pair stage, bad choices refused."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from core_testlib import LABELS, tiny_args

from shared.data import DataError, LabelledTexts, load_labelled
from shared.model_dir import MANIFEST, ModelInfo


@pytest.fixture(scope="module")
def splits(tiny_data):
    train = load_labelled(tiny_data.train)
    return train, load_labelled(tiny_data.test, known_labels=train.label_names)


@pytest.fixture(scope="module")
def probe_model(tmp_path_factory, tiny_base, splits):
    from shared.training import finetune

    out = tmp_path_factory.mktemp("probe") / "model"
    result = finetune(splits[0], tiny_args(tiny_base, recipe="probe", probe_features="fp32", probe_c=100.0), out,
                      test=splits[1])
    return out, result


def _accuracy(folder, data, backend="torch") -> float:
    from shared.inference import Predictor

    predictions = Predictor(folder, backend).predict(data.texts, top_k=1)
    return float(np.mean([p.label == y for p, y in zip(predictions, data.labels)]))


def test_probe_writes_the_same_folder_as_a_full_fine_tune(probe_model, tiny_model):
    folder, _ = probe_model
    full_files = {p.name for p in tiny_model.iterdir()}
    probe_files = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", MANIFEST, "metrics.json", "README.md",
            "plots"} <= probe_files
    assert full_files - probe_files <= {"runs"}  # no TensorBoard run: the probe has no training steps
    info = ModelInfo.load(folder)
    assert info.recipe == "probe" and info.hyperparameters["recipe"] == "probe"
    assert info.hyperparameters["probe_iterations"] > 0
    assert "**probe** recipe" in (folder / "README.md").read_text()
    assert json.loads((folder / "metrics.json").read_text())["recipe"] == "probe"


def test_probe_head_serves_exactly_what_it_scored(probe_model, splits):
    """The reported test accuracy comes from the head's logits on the feature graph; the saved
    torch folder, read back by the Predictor, must give the same answers."""
    folder, result = probe_model
    assert _accuracy(folder, splits[1]) == pytest.approx(result.metrics["accuracy"], abs=1e-9)
    assert result.metrics["accuracy"] > 1 / len(LABELS) + 0.2  # frozen random features still carry the keywords


def test_probe_exports_to_int8_like_any_folder(probe_model, splits, tmp_path):
    from shared.export import export_onnx

    folder, result = probe_model
    exported = export_onnx(folder, tmp_path / "int8", int8=True)
    assert ModelInfo.load(exported).recipe == "probe"
    assert abs(_accuracy(exported, splits[1], "onnx") - result.metrics["accuracy"]) <= 0.05


def test_int8_probe_features_are_the_quantized_graphs(tmp_path, tiny_base, splits):
    from shared.export.features import FEATURES_INT8, cached_base_features
    from shared.training import finetune

    out = tmp_path / "int8-probe"
    finetune(splits[0], tiny_args(tiny_base, recipe="probe", probe_c=100.0), out, test=splits[1])
    assert ModelInfo.load(out).hyperparameters["probe_features_used"] == "int8"
    assert (cached_base_features(str(tiny_base)) / FEATURES_INT8).is_file()


def test_logistic_head_keeps_a_row_per_label_even_when_one_is_missing():
    from shared.training.recipes import LogisticHead

    rng = np.random.default_rng(0)
    features = np.vstack([rng.normal(-2, 1, (20, 4)), rng.normal(2, 1, (20, 4))]).astype(np.float32)
    labels = np.array([0] * 20 + [2] * 20)
    head = LogisticHead.fit(features, labels, 3, c=1.0, max_iter=200, seed=0)
    assert head.weight.shape == (3, 4)
    predicted = head.logits(features).argmax(axis=1)
    assert (predicted == labels).mean() > 0.9  # the binary fit is spread over two rows correctly
    assert 1 not in predicted


def test_lp_ft_starts_from_the_probe_head_and_trains_the_head_faster(tmp_path, tiny_base, splits):
    from shared.training import finetune

    out = tmp_path / "lpft"
    args = tiny_args(tiny_base, recipe="lp-ft", epochs=3, learning_rate=1e-3, head_learning_rate=1e-2, probe_c=100.0)
    result = finetune(splits[0], args, out, test=splits[1])
    info = ModelInfo.load(out)
    assert info.recipe == "lp-ft" and info.hyperparameters["probe_iterations"] > 0
    assert info.hyperparameters["head_learning_rate"] == 1e-2
    assert result.metrics["accuracy"] > 1 / len(LABELS) + 0.2
    assert _accuracy(out, splits[1]) == pytest.approx(result.metrics["accuracy"], abs=1e-9)


def test_head_learning_rate_gives_the_head_its_own_optimizer_groups(tiny_base, splits, tmp_path):
    from shared.training.pipeline import build_trainer, prepare_data

    args = tiny_args(tiny_base, head_learning_rate=0.5, learning_rate=1e-4)
    trainer, _, _ = build_trainer(prepare_data(splits[0], args), args, tmp_path / "checkpoints")
    optimizer = trainer.create_optimizer()
    head = {id(p) for p in trainer.model.classifier.parameters()}
    for group in optimizer.param_groups:
        in_head = {id(p) in head for p in group["params"]}
        assert len(in_head) == 1  # no group mixes head and encoder
        assert group["lr"] == (0.5 if in_head == {True} else 1e-4)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(trainer.model.parameters()))


def test_contrastive_pairs_are_balanced_and_never_a_text_with_itself(splits):
    from shared.training.pairs import draw_pairs

    train = splits[0]
    pairs = draw_pairs(train, 4, seed=3)
    assert len(pairs) == 4 * len(train)
    assert sum(p[2] for p in pairs) == 2 * len(train)
    label = dict(zip(train.texts, train.labels))
    assert all((label[a] == label[b]) == (target == 1.0) for a, b, target in pairs)
    assert all(a != b for a, b, _ in pairs)
    assert draw_pairs(train, 4, seed=3) == pairs and draw_pairs(train, 4, seed=4) != pairs


def test_contrastive_recipe_tunes_the_encoder_then_fits_a_head(tmp_path, tiny_base, splits):
    from safetensors.numpy import load_file

    from shared.training import finetune

    out = tmp_path / "setfit"
    args = tiny_args(tiny_base, recipe="contrastive", contrastive_pairs=2, contrastive_learning_rate=1e-3,
                     probe_c=100.0)
    result = finetune(splits[0], args, out, test=splits[1])
    info = ModelInfo.load(out)
    assert info.recipe == "contrastive" and info.hyperparameters["contrastive_pairs_drawn"] == 2 * (
        info.hyperparameters["train_examples"])
    tuned = load_file(str(out / "model.safetensors"))
    base = load_file(str(tiny_base / "model.safetensors"))
    name = next(k for k in base if k.endswith("word_embeddings.weight"))
    assert not np.allclose(tuned[f"bert.{name.removeprefix('bert.')}"], base[name])  # the encoder moved
    assert _accuracy(out, splits[1]) == pytest.approx(result.metrics["accuracy"], abs=1e-9)


def test_unknown_recipe_lists_the_known_ones(tmp_path, tiny_base, splits):
    from shared.registry import UnknownNameError
    from shared.training import finetune

    with pytest.raises(UnknownNameError, match="contrastive, full, lp-ft, probe"):
        finetune(splits[0], tiny_args(tiny_base, recipe="setfit"), tmp_path / "x")
    assert not (tmp_path / "x").exists()  # refused before any work


def test_feature_recipes_refuse_pair_heads(tmp_path, tiny_base):
    from shared.training import finetune

    pairs = LabelledTexts(["a\tb", "c\td"] * 10, ["no", "yes"] * 10)
    with pytest.raises(DataError, match="text pairs: use --recipe full"):
        finetune(pairs, tiny_args(tiny_base, recipe="probe", head="pair-classification"), tmp_path / "x")


def test_probe_features_must_be_int8_or_fp32(tmp_path, tiny_base, splits):
    from shared.training import finetune

    with pytest.raises(DataError, match="probe_features"):
        finetune(splits[0], replace(tiny_args(tiny_base, recipe="probe"), probe_features="int4"), tmp_path / "x")
