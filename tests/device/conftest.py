"""Device fixtures: a bundle packed from the tiny fine-tuned model of tests/conftest.py."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def packed(tmp_path_factory, tiny_model, tiny_data):
    """The tiny model packed once, with a memory of its training data."""
    from shared.data import load_labelled
    from shared.export.device import pack_bundle

    out = tmp_path_factory.mktemp("bundles") / "tiny.bundle"
    return pack_bundle(tiny_model, out, data=load_labelled(tiny_data.train), memory_per_class=20, threads=1)


@pytest.fixture
def bundle(packed, tmp_path):
    """A fresh copy of the packed bundle per test (tests learn into it)."""
    return shutil.copytree(packed, tmp_path / "bundle")
