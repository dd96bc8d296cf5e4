"""`nlpsuite run`'s classifiers: a first version quickly, the profile's recipe swapped in when it
beats it on validation, nothing trained twice, progress for /health and `models status`."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from core_testlib import tiny_args

import shared.app.quickstart as quickstart
from shared.app.cli import main
from shared.data import load_labelled
from shared.model_versions import ModelVersions


@pytest.fixture
def tiny_specs(monkeypatch, tiny_base, tiny_data):
    """The products' classifiers with the tiny BERT and the synthetic data in place of the real
    ones: the probe first, a full fine-tune as the quick profile."""
    from shared.app.discovery import classifier_specs, load_parts

    def splits():
        return {"train": load_labelled(tiny_data.train), "test": load_labelled(tiny_data.test)}

    specs = [replace(spec, load_data=splits, profiles={"quick": tiny_args(tiny_base)},
                     first=tiny_args(tiny_base, recipe="probe", probe_c=100.0),
                     demo_texts=("my card pin expired",)) for spec in classifier_specs(load_parts())]
    import shared.app.discovery

    monkeypatch.setattr(shared.app.discovery, "classifier_specs", lambda parts: specs)
    return specs


def _no_training(monkeypatch):
    import shared.training

    def refuse(*args, **kwargs):
        raise AssertionError("a version was trained again")

    monkeypatch.setattr(shared.training, "finetune", refuse)


def test_first_version_serves_then_the_profile_replaces_it_only_when_better(tiny_specs, tmp_path, monkeypatch):
    spec = tiny_specs[0]
    first = quickstart.ensure_serving(spec, "quick", tmp_path, threads=1)
    versions = ModelVersions(quickstart.model_root(spec.name, tmp_path))
    assert versions.current().id == first.id and first.info.recipe == "probe"
    assert (first.folder / "model_int8.onnx").is_file() and first.info.validation["n"] > 0
    assert first.info.test["n"] == 60  # measured on the served graph, test split included

    upgraded, switched = quickstart.upgrade(spec, "quick", tmp_path, threads=1)
    assert upgraded.info.recipe == "full"
    assert switched == (upgraded.info.score > first.info.score)
    assert versions.current().id == (upgraded.id if switched else first.id)

    # the same arguments and data: found, not trained again; a second run serves what is there
    _no_training(monkeypatch)
    assert quickstart.upgrade(spec, "quick", tmp_path, threads=1)[0].id == upgraded.id
    assert quickstart.ensure_serving(spec, "quick", tmp_path, threads=1).id == versions.current().id


def test_a_served_version_without_a_label_the_data_now_has_is_replaced(tiny_specs, tmp_path):
    """A product added an intent since the version was trained: the next run trains a first
    version on the current data instead of serving one that can never answer it."""
    from shared.data import LabelledTexts

    spec = tiny_specs[0]
    full = spec.load_data()
    dropped = full["train"].labels[0]

    def without(data):
        kept = [(t, y) for t, y in zip(data.texts, data.labels) if y != dropped]
        return LabelledTexts([t for t, _ in kept], [y for _, y in kept], "fewer")

    fewer = replace(spec, load_data=lambda: {"train": without(full["train"]), "test": without(full["test"])})
    old = quickstart.ensure_serving(fewer, "quick", tmp_path, threads=1)
    assert f'"{dropped}"' not in old.folder.joinpath("nlpsuite.json").read_text()
    new = quickstart.ensure_serving(spec, "quick", tmp_path, threads=1)
    assert new.id != old.id and ModelVersions(quickstart.model_root(spec.name, tmp_path)).current().id == new.id
    assert quickstart.ensure_serving(spec, "quick", tmp_path, threads=1).id == new.id  # and kept after


def test_a_worse_upgrade_is_kept_aside(tiny_specs, tmp_path):
    spec = replace(tiny_specs[0], profiles={"quick": replace(tiny_specs[0].first, probe_c=1e-4)})
    first = quickstart.ensure_serving(spec, "quick", tmp_path, threads=1)
    worse, switched = quickstart.upgrade(spec, "quick", tmp_path, threads=1)
    assert worse.info.score < first.info.score and not switched
    assert ModelVersions(quickstart.model_root(spec.name, tmp_path)).current().id == first.id


def test_versions_are_compared_on_the_same_validation_texts(tiny_specs):
    spec = tiny_specs[0]
    a, b = quickstart._splits(spec), quickstart._splits(spec)
    assert a["validation"].texts == b["validation"].texts and len(a["validation"]) == 18
    assert quickstart.fingerprint(spec.first, a) == quickstart.fingerprint(replace(spec.first, threads=7), b)
    assert quickstart.fingerprint(spec.first, a) != quickstart.fingerprint(spec.profiles["quick"], a)


def test_prepare_only_trains_both_versions_demos_the_served_one_and_reports_status(
        tiny_specs, tmp_path, capsys, monkeypatch):
    assert main(["run", "--prepare-only", "--var", str(tmp_path), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    for name in ("intents", "phrasebank"):
        assert len(ModelVersions(tmp_path / "models" / name).all()) == 2
        assert f"{name}: {tmp_path / 'models' / name / 'versions'}" in out
    assert "'my card pin expired' -> card" in out

    config = tmp_path / "nlpsuite.yml"
    config.write_text(f"suite:\n  var_dir: {tmp_path}\n")
    assert main(["models", "status", "--config", str(config)]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert {row["task"] for row in rows} == {"intents", "phrasebank"}
    assert all(row["recipe"] in ("probe", "full") and row["test"]["n"] == 60 for row in rows)
    assert "intents: " in captured.err and "validation macro-F1" in captured.err

    from fastapi.testclient import TestClient

    from shared.app.web import create_app

    client = TestClient(create_app(config, plugins=[], api_token="t" * 32), base_url="http://127.0.0.1")
    health = client.get("/health").json()["models"]
    assert {row["task"]: row["version"] for row in rows} == {name: row["version"] for name, row in health.items()}
    assert "Models" in client.get("/").text and "intents: " in client.get("/").text

    _no_training(monkeypatch)  # a second run trains nothing
    assert main(["run", "--prepare-only", "--var", str(tmp_path), "--threads", "1"]) == 0
    assert "ready in" in capsys.readouterr().out


def test_the_upgrade_job_records_its_progress_and_outcome(tiny_specs, tmp_path):
    from shared.app.upgrade import main as upgrade_main
    from shared.app.upgrade import read_status

    for spec in tiny_specs:
        quickstart.ensure_serving(spec, "quick", tmp_path, threads=1)
    assert upgrade_main(["--var", str(tmp_path), "--profile", "quick", "--nice", "0"]) == 0
    for spec in tiny_specs:
        status = read_status(quickstart.model_root(spec.name, tmp_path))
        assert status["state"] in ("serving", "kept") and status["recipe"] == "full" and status["threads"] == 1
        assert status["version"] in {v.id for v in ModelVersions(quickstart.model_root(spec.name, tmp_path)).all()}
