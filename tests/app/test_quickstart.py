"""`nlpsuite run` (the README's main job): prepares each model once, then reuses the cache."""
from __future__ import annotations

import pytest
from core_testlib import tiny_args

import shared.app.quickstart as quickstart
from shared.app.cli import main
from shared.data import load_labelled


@pytest.fixture
def tiny_profile(monkeypatch, tiny_base, tiny_data):
    """The products' classifiers with the tiny BERT and the synthetic data in place of the real ones."""
    from dataclasses import replace

    from shared.app.discovery import classifier_specs, load_parts

    def splits():
        return {"train": load_labelled(tiny_data.train), "test": load_labelled(tiny_data.test)}

    specs = [replace(spec, load_data=splits, profiles={"quick": tiny_args(tiny_base)},
                     demo_texts=("my card pin expired",)) for spec in classifier_specs(load_parts())]
    monkeypatch.setattr(quickstart, "classifier_specs", lambda parts: specs)


def test_run_prepares_exports_and_demos_each_model_then_reuses_them(tiny_profile, tmp_path, capsys, monkeypatch):
    assert main(["run", "--prepare-only", "--var", str(tmp_path), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    for name in ("intents", "phrasebank"):
        exported = tmp_path / "models" / f"{name}-quick-int8"
        assert (exported / "model_int8.onnx").is_file()
        assert (tmp_path / "models" / f"{name}-quick" / "metrics.json").is_file()
        assert f"{name}: {exported}" in out
    assert "'my card pin expired' -> card" in out

    # A second run trains nothing: finetune would fail loudly if it were called.
    import shared.training

    def no_training(*args, **kwargs):
        raise AssertionError("the cached model was trained again")

    monkeypatch.setattr(shared.training, "finetune", no_training)
    assert main(["run", "--prepare-only", "--var", str(tmp_path), "--threads", "1"]) == 0
    assert "ready in" in capsys.readouterr().out
