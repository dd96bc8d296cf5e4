"""Writes that leave the old state or the new one (shared.atomic), and the served folder that
finetune_for_serving replaces only once the new one is complete."""
from __future__ import annotations

import pytest
from core_testlib import tiny_args

from shared.atomic import replace_folder, write_text_atomically
from shared.data import load_labelled


def test_write_text_atomically_replaces_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "pointer.json"
    write_text_atomically(path, "old")
    write_text_atomically(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["pointer.json"]


def test_replace_folder_swaps_in_the_new_one_and_drops_the_old(tmp_path):
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "old.txt").write_text("old")
    (tmp_path / "staged").mkdir()
    (tmp_path / "staged" / "new.txt").write_text("new")
    replace_folder(tmp_path / "staged", tmp_path / "served")
    assert [p.name for p in (tmp_path / "served").iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]


def test_a_failed_export_leaves_the_served_folder_as_it_was(tmp_path, tiny_base, tiny_data, monkeypatch):
    import shared.export
    from shared.deploy import finetune_for_serving

    served = tmp_path / "served"
    served.mkdir()
    (served / "nlpsuite.json").write_text("{}")
    train = load_labelled(tiny_data.train)

    def broken_export(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(shared.export, "export_onnx", broken_export)
    with pytest.raises(OSError, match="disk full"):
        finetune_for_serving(train, tiny_args(tiny_base, recipe="probe", probe_features="fp32"), served)
    assert (served / "nlpsuite.json").read_text() == "{}"  # still the old one, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]  # no half-written neighbour
    monkeypatch.undo()
    finetune_for_serving(train, tiny_args(tiny_base, recipe="probe", probe_features="fp32"), served)
    assert (served / "model_int8.onnx").is_file() and (served / "nlpsuite.json").read_text() != "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]
