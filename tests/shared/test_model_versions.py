"""Versions behind an atomic pointer (shared.model_versions): commit, switch, prune, and a
LiveModel that swaps a new version in without failing or stalling its callers."""
from __future__ import annotations

import json
import threading
import time

import pytest

from shared.model_versions import (
    POINTER,
    LiveModel,
    ModelVersions,
    VersionError,
    VersionInfo,
    is_versioned,
    served_folder,
)


def _commit(versions: ModelVersions, payload: str, score: float, recipe: str = "probe"):
    staged = versions.stage()
    (staged / "payload.txt").write_text(payload)
    return versions.commit(staged, VersionInfo(recipe=recipe, fingerprint=payload, validation={"macro_f1": score}))


def test_commit_switch_and_served_folder(tmp_path):
    versions = ModelVersions(tmp_path / "task")
    assert versions.current() is None and not is_versioned(versions.root)
    a = _commit(versions, "a", 0.5)
    assert versions.current() is None  # committed is not served
    versions.switch(a.id)
    assert is_versioned(versions.root) and served_folder(versions.root) == a.folder
    assert (served_folder(versions.root) / "payload.txt").read_text() == "a"
    assert served_folder(tmp_path / "plain") == tmp_path / "plain"  # a plain folder is itself
    assert versions.find("a").id == a.id and versions.find("zzz") is None


def test_switch_if_better_compares_validation_scores(tmp_path):
    versions = ModelVersions(tmp_path / "task")
    a = _commit(versions, "a", 0.5)
    assert versions.switch_if_better(a)  # nothing served yet
    assert not versions.switch_if_better(_commit(versions, "b", 0.5))  # a tie keeps the served one
    c = _commit(versions, "c", 0.6)
    assert versions.switch_if_better(c) and versions.current().id == c.id
    assert versions.best().id == c.id


def test_an_incomplete_version_is_never_pointed_at(tmp_path):
    versions = ModelVersions(tmp_path / "task")
    staged = versions.stage()
    (staged / "payload.txt").write_text("half")
    with pytest.raises(VersionError, match="not a complete version"):
        versions.switch(staged.name)
    assert versions.all() == [] and versions.current() is None


def test_prune_keeps_the_newest_and_the_current_and_removes_staging_leftovers(tmp_path):
    versions = ModelVersions(tmp_path / "task")
    made = [_commit(versions, str(i), i / 10) for i in range(5)]
    versions.switch(made[0].id)
    import os
    import time

    abandoned = versions.stage()  # as a killed writer leaves it
    old = time.time() - 7 * 3600
    os.utime(abandoned, (old, old))
    writing = versions.stage()  # a training still filling its folder (the upgrade, while a teach prunes)
    versions.prune(keep=2)
    left = {v.id for v in versions.all()}
    assert left == {made[0].id, made[3].id, made[4].id}
    assert [p for p in (versions.root / "versions").iterdir() if p.name.startswith(".staging-")] == [writing]


def test_a_broken_pointer_is_an_error_naming_the_file(tmp_path):
    root = tmp_path / "task"
    root.mkdir()
    (root / POINTER).write_text("{not json")
    with pytest.raises(VersionError, match=str(root / POINTER)):
        ModelVersions(root).current()


def test_live_model_swaps_without_failing_or_stalling_callers(tmp_path):
    """Many callers read while a slow load of the next version runs: every call answers, from the
    old version until the new one is ready, and none waits anywhere near the load's duration."""
    versions = ModelVersions(tmp_path / "task")
    a, b = _commit(versions, "a", 0.5), _commit(versions, "b", 0.6)
    versions.switch(a.id)

    def slow_load(folder):
        if (folder / "payload.txt").read_text() == "b":
            time.sleep(1.5)  # a new ONNX session takes this long on a busy machine
        return (folder / "payload.txt").read_text()

    live = LiveModel(versions.root, slow_load, check_every_s=0.05)
    assert live.get() == "a" and live.version == a.id
    seen, slowest, errors = [], [0.0], []
    stop = threading.Event()

    def caller():
        while not stop.is_set():
            started = time.perf_counter()
            try:
                seen.append(live.get())
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            slowest[0] = max(slowest[0], time.perf_counter() - started)
            time.sleep(0.001)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    versions.switch(b.id)
    assert live.swapped.wait(10)
    time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    assert not errors and slowest[0] < 0.5
    assert seen[0] == "a" and seen[-1] == "b" and live.version == b.id
    assert seen.index("b") > 0 and "a" not in seen[seen.index("b"):]  # never back to the old one


def test_live_model_keeps_serving_when_a_version_fails_to_load(tmp_path, caplog):
    versions = ModelVersions(tmp_path / "task")
    a, b = _commit(versions, "a", 0.5), _commit(versions, "b", 0.6)
    versions.switch(a.id)

    def load(folder):
        text = (folder / "payload.txt").read_text()
        if text == "b":
            raise ValueError("corrupt graph")
        return text

    live = LiveModel(versions.root, load, check_every_s=0.0)
    versions.switch(b.id)
    deadline = time.monotonic() + 5
    while b.id not in live._failed and time.monotonic() < deadline:
        live.get()
        time.sleep(0.01)
    assert live.get() == "a" and "failed to load" in caplog.text
    assert json.loads((versions.root / POINTER).read_text())["version"] == b.id
