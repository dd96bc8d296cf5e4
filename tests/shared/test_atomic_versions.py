"""Versioned writes (shared.atomic) under fault injection: a writer killed at each step of a
write leaves a folder that loads, as the old version or the new one, never a mix or nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.atomic import CURRENT, current_version, publish_version, replace_folder

REPO = Path(__file__).resolve().parents[2]
STEPS = ["version-staged", "version-renamed", "version-pointed", None]

WRITE_INDEX = """
import sys
import numpy as np
from recommender.index import ItemIndex
folder, n = sys.argv[1], int(sys.argv[2])
vectors = np.random.default_rng(n).normal(size=(n, 8)).astype("float32")
ItemIndex.build([f"item-{i}" for i in range(n)], vectors).save(folder)
"""


def _write_index(folder: Path, n: int, crash_at: str | None) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)} | ({"NLPSUITE_CRASH_AT": crash_at} if crash_at else {})
    return subprocess.run([sys.executable, "-c", WRITE_INDEX, str(folder), str(n)], env=env, cwd=REPO).returncode


@pytest.mark.parametrize("crash_at", STEPS)
def test_a_faiss_index_killed_at_any_step_loads_as_the_old_or_the_new_version(tmp_path, crash_at):
    from recommender.index import ItemIndex

    folder = tmp_path / "index"
    assert _write_index(folder, 5, None) == 0
    code = _write_index(folder, 9, crash_at)
    assert code == (77 if crash_at else 0)
    index = ItemIndex.load(folder)  # loads, with ids matching its vectors (checked by load)
    expected = 9 if crash_at in ("version-pointed", None) else 5
    assert len(index.slot_ids) == index.index.ntotal == expected
    assert _write_index(folder, 12, None) == 0 and ItemIndex.load(folder).index.ntotal == 12  # writable again


def test_versions_are_pruned_and_old_layouts_still_read(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "data.json").write_text("[0]")
    assert current_version(folder) == folder  # written before versions: read at the top
    for n in range(1, 5):
        publish_version(folder, lambda staging, n=n: (staging / "data.json").write_text(json.dumps([n])))
    assert json.loads((current_version(folder) / "data.json").read_text()) == [4]
    assert len([p for p in folder.glob("v*") if p.is_dir()]) == 2  # the current one and its predecessor
    assert (folder / CURRENT).read_text().strip() == current_version(folder).name


def test_a_failed_write_leaves_the_current_version(tmp_path):
    folder = tmp_path / "v"
    publish_version(folder, lambda staging: (staging / "a").write_text("old"))

    def broken(staging):
        (staging / "a").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        publish_version(folder, broken)
    assert (current_version(folder) / "a").read_text() == "old" and not list(folder.glob(".staging-*"))


CRASH_REPLACE = """
import sys
from shared.atomic import replace_folder
replace_folder(sys.argv[1], sys.argv[2])
"""


def test_replace_folder_killed_between_its_renames_gives_the_old_folder_back(tmp_path):
    target, new = tmp_path / "model", tmp_path / "new"
    target.mkdir()
    (target / "v").write_text("old")
    new.mkdir()
    (new / "v").write_text("new")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NLPSUITE_CRASH_AT": "folder-aside"}
    assert subprocess.run([sys.executable, "-c", CRASH_REPLACE, str(new), str(target)], env=env).returncode == 77
    assert not target.exists()  # the moment the crash happened: the old one aside, the new one not in
    second = tmp_path / "second"
    second.mkdir()
    (second / "v").write_text("second")
    replace_folder(second, target)  # the next write first puts the old one back, then replaces it
    assert (target / "v").read_text() == "second" and not target.with_name("model.old").exists()


def test_a_batch_publish_killed_between_its_renames_keeps_the_previous_output(tmp_path):
    from shared.batch.output import prepare

    output = tmp_path / "scores"
    output.mkdir()
    (output / "part-0.parquet").write_text("previous")
    aside = tmp_path / "scores.tmp-old-1234abcd"
    output.rename(aside)  # what a publish killed after its first rename leaves
    temporary = prepare(output, overwrite=True)
    assert (output / "part-0.parquet").read_text() == "previous" and temporary.is_dir() and not aside.exists()
