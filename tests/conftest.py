"""Shared fixtures: a tiny BERT built from scratch (no download), a keyword-learnable synthetic
data set, and one tiny fine-tuned model reused by the unit, export and CLI tests."""
from __future__ import annotations

import os

# `import shared` makes the process offline and torch-only before any Hugging Face import;
# conftest.py loads before every test module, so no test can import transformers first.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
import shared  # noqa: E402,F401  (offline environment before any Hugging Face import)

import re  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from core_testlib import LABELS, REPO, build_tiny_bert, make_rows, tiny_args, write_csv  # noqa: E402,F401


@dataclass(frozen=True)
class TinyData:
    train: Path
    test: Path
    train_rows: list
    test_rows: list


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> TinyData:
    """3 labels, 60 training rows each, 20 test rows each, no text shared between the files."""
    folder = tmp_path_factory.mktemp("tiny_data")
    seen: set[str] = set()
    train_rows = make_rows(60, seed=1, exclude=seen)
    test_rows = make_rows(20, seed=2, exclude=seen)
    return TinyData(write_csv(folder / "train.csv", train_rows), write_csv(folder / "test.csv", test_rows),
                    train_rows, test_rows)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, tiny_data) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) whose WordPiece vocab is the data's words."""
    words = {w for text, _ in tiny_data.train_rows + tiny_data.test_rows
             for w in re.findall(r"\w+|[^\w\s]", text.lower())}
    folder = build_tiny_bert(tmp_path_factory.mktemp("tiny_base"), words)
    assert (folder / "tokenizer.json").is_file() and (folder / "config.json").is_file()
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_base, tiny_data) -> Path:
    """The tiny BERT fine-tuned once on the synthetic data, evaluated on its test file."""
    from shared.data import load_labelled
    from shared.training import finetune

    out = tmp_path_factory.mktemp("tiny_model") / "model"
    train = load_labelled(tiny_data.train)
    test = load_labelled(tiny_data.test, known_labels=train.label_names)
    finetune(train, tiny_args(tiny_base), out, test=test)
    return out


@pytest.fixture(scope="session")
def tiny_onnx_int8(tmp_path_factory, tiny_model) -> Path:
    from shared.export import export_onnx

    return export_onnx(tiny_model, tmp_path_factory.mktemp("tiny_onnx_int8") / "export", int8=True)


@pytest.fixture(scope="session")
def tiny_onnx_fp32(tmp_path_factory, tiny_model) -> Path:
    from shared.export import export_onnx

    return export_onnx(tiny_model, tmp_path_factory.mktemp("tiny_onnx_fp32") / "export", int8=False)


@pytest.fixture(scope="session")
def quick_intents(request) -> Path:
    """The intent model `make run` serves (quick profile), trained once per machine."""
    from models_testlib import quick_model

    return quick_model("intents", request.config.cache.mkdir("quick-models"))


@pytest.fixture(scope="session")
def quick_sentiment(request) -> Path:
    """The sentiment model `make run` serves (quick profile), trained once per machine."""
    from models_testlib import quick_model

    return quick_model("phrasebank", request.config.cache.mkdir("quick-models"))
