"""Distillation: the loss, the teacher's logits, and a student that learns what the teacher knows."""
from __future__ import annotations

import json

import pytest
import torch
from core_testlib import tiny_args

from shared.data import DataError, LabelledTexts, load_labelled
from shared.training import finetune
from shared.training.distillation import distillation_loss, teacher_logits


def test_loss_is_plain_cross_entropy_at_alpha_one():
    student, teacher = torch.randn(8, 5), torch.randn(8, 5)
    labels = torch.randint(0, 5, (8,))
    expected = torch.nn.functional.cross_entropy(student, labels)
    got = distillation_loss(student, teacher, labels, alpha=1.0, temperature=3.0)
    assert torch.allclose(got, expected)


def test_soft_part_vanishes_when_the_student_matches_the_teacher():
    logits = torch.randn(8, 5)
    labels = torch.randint(0, 5, (8,))
    assert distillation_loss(logits, logits.clone(), labels, alpha=0.0, temperature=2.0).item() == pytest.approx(0, abs=1e-6)
    other = distillation_loss(logits, torch.randn(8, 5), labels, alpha=0.0, temperature=2.0).item()
    assert other > 0.01


def test_soft_part_pulls_the_student_towards_the_teacher():
    torch.manual_seed(0)
    teacher = torch.randn(16, 4) * 3
    student = torch.zeros(16, 4, requires_grad=True)
    labels = torch.zeros(16, dtype=torch.long)  # the hard labels disagree with the teacher; alpha=0 ignores them
    optimiser = torch.optim.SGD([student], lr=1.0)
    for _ in range(300):
        optimiser.zero_grad()
        distillation_loss(student, teacher, labels, alpha=0.0, temperature=2.0).backward()
        optimiser.step()
    assert (student.argmax(-1) == teacher.argmax(-1)).all()


def _relabelled(data: LabelledTexts, mapping: dict[str, str]) -> LabelledTexts:
    return LabelledTexts([*data.texts], [mapping[label] for label in data.labels], source=data.source)


@pytest.fixture(scope="module")
def rotated_teacher(tmp_path_factory, tiny_base, tiny_data):
    """A teacher trained on deliberately wrong labels (card->refund->transfer->card)."""
    rotate = {"card": "refund", "refund": "transfer", "transfer": "card"}
    train = _relabelled(load_labelled(tiny_data.train), rotate)
    out = tmp_path_factory.mktemp("rotated_teacher") / "model"
    finetune(train, tiny_args(tiny_base), out)
    return out, rotate


def test_teacher_logits_follow_the_students_label_order(rotated_teacher, tiny_data):
    folder, _ = rotated_teacher
    texts = [text for text, _ in tiny_data.test_rows[:12]]
    forward = teacher_logits(folder, texts, ["card", "refund", "transfer"])
    backward = teacher_logits(folder, texts, ["transfer", "refund", "card"])
    assert forward.shape == (12, 3)
    assert torch.allclose(torch.from_numpy(forward), torch.from_numpy(backward[:, ::-1].copy()))


def test_teacher_logits_are_calibrated_by_the_teachers_temperature(rotated_teacher, tiny_data, tmp_path):
    import shutil

    folder, _ = rotated_teacher
    hotter = shutil.copytree(folder, tmp_path / "hotter")
    manifest = json.loads((hotter / "nlpsuite.json").read_text())
    manifest["temperature"] *= 4.0
    (hotter / "nlpsuite.json").write_text(json.dumps(manifest))
    texts = [text for text, _ in tiny_data.test_rows[:12]]
    labels = ["card", "refund", "transfer"]
    assert torch.allclose(torch.from_numpy(teacher_logits(hotter, texts, labels)) * 4.0,
                          torch.from_numpy(teacher_logits(folder, texts, labels)), atol=1e-5)


def test_student_learns_from_the_teacher_not_only_the_labels(rotated_teacher, tiny_base, tiny_data, tmp_path):
    """With alpha=0 the student copies the teacher, so on test it agrees with the rotated labels."""
    folder, rotate = rotated_teacher
    train = load_labelled(tiny_data.train)
    test = load_labelled(tiny_data.test, known_labels=train.label_names)
    args = tiny_args(tiny_base, teacher=str(folder), distill_alpha=0.0, distill_temperature=1.0)
    finetune(train, args, tmp_path / "student", validation=_relabelled(test, rotate), test=_relabelled(test, rotate))
    metrics = json.loads((tmp_path / "student" / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.8  # chance is 1/3; the true labels would score near 0 here
    manifest = json.loads((tmp_path / "student" / "nlpsuite.json").read_text())
    assert manifest["hyperparameters"]["teacher"] == str(folder)


def test_teacher_with_other_labels_is_refused(tiny_model, tmp_path, tiny_base):
    train = LabelledTexts([f"card number {i}" for i in range(20)], ["yes", "no"] * 10, source="two.csv")
    with pytest.raises(DataError, match="teacher .* other labels") as caught:
        finetune(train, tiny_args(tiny_base, teacher=str(tiny_model)), tmp_path / "student")
    assert "missing: no, yes" in str(caught.value)


def test_an_mpnet_teacher_gets_the_mean_pooled_head_and_serves(tmp_path, tiny_base, tiny_data):
    """The benchmark's teacher is MPNet: the sequence head mean-pools it as it does BERT, and the
    torch Predictor (which the distillation uses for the teacher's logits) loads the result."""
    import shutil

    from transformers import MPNetConfig, MPNetModel

    from shared.inference import Predictor

    base = tmp_path / "tiny_mpnet"
    shutil.copytree(tiny_base, base)
    vocab_size = len((base / "vocab.txt").read_text(encoding="utf-8").split())
    torch.manual_seed(0)
    MPNetModel(MPNetConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=130, pad_token_id=0)).save_pretrained(base)
    train = load_labelled(tiny_data.train)
    test = load_labelled(tiny_data.test, known_labels=train.label_names)
    finetune(train, tiny_args(base), tmp_path / "model", test=test)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["model_type"] == "nlpsuite-mpnet-meanpool"
    reported = json.loads((tmp_path / "model" / "metrics.json").read_text())["accuracy"]
    assert reported > 0.6  # chance is 1/3
    predicted = Predictor(tmp_path / "model", "torch").predict([t for t, _ in tiny_data.test_rows], top_k=1)
    accuracy = sum(p.label == label for p, (_, label) in zip(predicted, tiny_data.test_rows)) / len(predicted)
    assert accuracy == pytest.approx(reported)  # the saved folder serves what training measured
