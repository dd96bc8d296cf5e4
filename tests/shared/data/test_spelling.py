"""Spelling correction: unknown words mapped to the training vocabulary, saved with the model,
applied by the Predictor of the folder and of its ONNX export."""
from __future__ import annotations

import json

import numpy as np
import pytest
from core_testlib import tiny_args

from shared.data import DataError, load_labelled
from shared.data.spelling import SPELLING_FILE, SpellingCorrector

TEXTS = ["my card was stolen", "I want a refund for this purchase", "send a transfer to the payee"]


@pytest.fixture(scope="module")
def corrector():
    return SpellingCorrector.from_texts(TEXTS)


@pytest.mark.parametrize("typo, fixed", [
    ("my crad was stolen", "my card was stolen"),  # swapped letters
    ("I want a refnd", "I want a refund"),  # dropped letter
    ("send a transferr", "send a transfer"),  # doubled letter
    ("the paytee", "the payee"),  # extra neighbouring key
])
def test_one_typo_is_mapped_to_the_training_word(corrector, typo, fixed):
    assert corrector.correct(typo) == fixed


def test_case_punctuation_and_known_words_are_kept(corrector):
    assert corrector.correct("My CRAD was stolen!!") == "My CARD was stolen!!"
    # "wallet" is not a training word but is English: left alone, not "corrected" into one
    assert corrector.correct("my wallet, please") == "my wallet, please"
    assert corrector.correct("ok xq") == "ok xq"  # under three letters: never changed


def test_a_word_two_edits_away_is_left_alone(corrector):
    assert corrector.correct("a refnudd") == "a refnudd"  # swapped and doubled


def test_saved_vocabulary_round_trips(tmp_path, corrector):
    path = corrector.save(tmp_path)
    assert path.name == SPELLING_FILE
    again = SpellingCorrector.load(path)
    assert again.words == corrector.words
    assert again.correct("my crad") == "my card"


def test_a_broken_vocabulary_file_names_the_file(tmp_path):
    bad = tmp_path / SPELLING_FILE
    bad.write_text(json.dumps({"english_words": 10}))
    with pytest.raises(DataError, match=str(bad)):
        SpellingCorrector.load(bad)


@pytest.fixture(scope="module")
def spelling_model(tmp_path_factory, tiny_base, tiny_data):
    from shared.export import export_onnx
    from shared.training import finetune

    out = tmp_path_factory.mktemp("spelling_model") / "model"
    train = load_labelled(tiny_data.train)
    finetune(train, tiny_args(tiny_base, spelling_correction=True, typo_augmentation=0.2), out)
    return out, export_onnx(out, out.parent / "int8", int8=True)


@pytest.mark.parametrize("which", [0, 1], ids=["torch", "onnx-int8"])
def test_the_served_model_reads_a_misspelt_keyword_as_the_word(spelling_model, tiny_data, which):
    from shared.inference import Predictor
    from shared.model_dir import ModelInfo

    folder = spelling_model[which]
    assert ModelInfo.load(folder).spelling_file == SPELLING_FILE
    assert (folder / SPELLING_FILE).is_file()
    clean = "please can you check my refund purchase today"
    typo = "please can you check my refnud purchase today"
    predictor = Predictor(folder, threads=1)
    np.testing.assert_allclose(predictor.logits([typo]), predictor.logits([clean]), rtol=1e-5)
    plain = Predictor(folder, threads=1, correct_spelling=False)
    assert not np.allclose(plain.logits([typo]), plain.logits([clean]))


def test_a_model_trained_without_it_has_no_vocabulary(tiny_model):
    from shared.model_dir import ModelInfo

    assert ModelInfo.load(tiny_model).spelling_file is None
    assert not (tiny_model / SPELLING_FILE).exists()
