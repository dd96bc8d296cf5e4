"""Recommender fixtures: a catalogue with a known topic structure, a tiny sentence encoder built
here (no download), and one recommender fitted on them, reused by the model, CLI and API tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import shared  # noqa: F401  (offline environment first)

from rec_testlib import Catalogue, build_tiny_encoder, make_catalogue, tiny_fit_config

@pytest.fixture(scope="session")
def catalogue(tmp_path_factory) -> Catalogue:
    return make_catalogue(tmp_path_factory.mktemp("catalogue"))


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory, catalogue) -> Path:
    folder = build_tiny_encoder(tmp_path_factory.mktemp("tiny_bert"), tmp_path_factory.mktemp("tiny_encoder"),
                                catalogue.items)
    assert (folder / "config.json").is_file()
    return folder


@pytest.fixture(scope="session")
def fitted(tmp_path_factory, catalogue, tiny_encoder) -> Path:
    """A recommender folder fitted once on the synthetic catalogue (treat as read-only)."""
    from recommender.model import fit

    out = tmp_path_factory.mktemp("fitted") / "model"
    fit(catalogue.items, catalogue.interactions, out, tiny_fit_config(tiny_encoder))
    return out


@pytest.fixture
def model_copy(fitted, tmp_path) -> Path:
    """A private copy of the fitted folder for tests that write to it."""
    return Path(shutil.copytree(fitted, tmp_path / "model"))
