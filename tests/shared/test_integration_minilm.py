"""The real thing, small: fine-tune the registered MiniLM-L6 on 8 BANKING77 intents.

Marked slow (40 steps: about 1.5 minutes on 2 idle cores); ``make test-fast`` skips it.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from chatbot.banking77 import load_banking77
from shared.inference import Predictor
from shared.model_dir import ModelInfo
from shared.models import resolve_model
from shared.training import FineTuneArgs, finetune

pytestmark = pytest.mark.slow

INTENTS = ["card_arrival", "exchange_rate", "lost_or_stolen_card", "age_limit", "change_pin",
           "terminate_account", "apple_pay_or_google_pay", "country_support"]
PER_INTENT_TRAIN = 40
PER_INTENT_TEST = 20


def _subset(data, per_intent: int):
    taken = {intent: 0 for intent in INTENTS}
    keep = []
    for i, label in enumerate(data.labels):
        if label in taken and taken[label] < per_intent:
            taken[label] += 1
            keep.append(i)
    assert all(n == per_intent for n in taken.values()), taken
    return data.subset(keep)


@pytest.fixture(scope="module")
def minilm_banking(tmp_path_factory):
    splits = load_banking77()
    train = _subset(splits["train"], PER_INTENT_TRAIN)
    test = _subset(splits["test"], PER_INTENT_TEST)
    args = FineTuneArgs(base="minilm-l6", max_steps=40, learning_rate=1e-4, batch_size=16, threads=2,
                        eval_steps=20, logging_steps=10, early_stopping_patience=5, max_length=48,
                        progress=False)
    out = tmp_path_factory.mktemp("minilm") / "banking8"
    result = finetune(train, args, out, test=test)
    return result, test


def test_training_loss_falls(minilm_banking):
    result, _ = minilm_banking
    losses = [h["loss"] for h in result.metrics["log_history"] if "loss" in h]
    assert len(losses) >= 3, losses
    assert losses[-1] < 0.85 * losses[0], losses
    assert losses[0] > 1.5  # starts near ln(8) = 2.08: the head really was fresh


def test_test_accuracy_is_well_above_chance(minilm_banking):
    result, test = minilm_banking
    chance = 1 / len(INTENTS)
    assert result.metrics["evaluated_on"] == "test"
    assert result.metrics["n_examples"] == len(test) == len(INTENTS) * PER_INTENT_TEST
    assert result.metrics["accuracy"] >= 3 * chance, result.metrics["accuracy"]
    assert set(result.metrics["per_class"]) == set(INTENTS)


def test_folder_records_minilm_and_serves_the_same_predictions(minilm_banking):
    result, test = minilm_banking
    info = ModelInfo.load(result.output_dir)
    assert info.base_model == "minilm-l6" and info.labels == sorted(INTENTS)
    assert info.hyperparameters["max_steps"] == 40
    config = json.loads((result.output_dir / "config.json").read_text())
    base = json.loads((resolve_model("minilm-l6") / "config.json").read_text())
    assert config["hidden_size"] == base["hidden_size"] == 384
    predictor = Predictor(result.output_dir, "torch", threads=2)
    predicted = [p.label for p in predictor.predict(test.texts)]
    accuracy = float(np.mean([p == g for p, g in zip(predicted, test.labels)]))
    assert accuracy == pytest.approx(result.metrics["accuracy"], abs=2 / len(test))
