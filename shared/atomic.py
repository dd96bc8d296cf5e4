"""Writes that leave either the old state or the new one, never half of either.

A file is written beside itself, flushed to disk and renamed over the old one (``os.replace``
is atomic on POSIX); a folder is built beside itself and swapped in by two renames, the old one
removed only once the new one is in place. Pointers, manifests, status files and exported
model folders are all written this way, so a process killed at any moment loses nothing.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable


def write_text_atomically(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a temporary file in the same folder, renamed)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_folder(new: str | Path, target: str | Path) -> None:
    """Put the complete folder ``new`` at ``target``: the old one is renamed aside first
    (``<target>.old``) and removed only after the new one is in place. A run killed between the
    two renames leaves ``<target>.old``, which the next call (or ``recover_folder``) puts back."""
    new, target = Path(new), Path(target)
    old = recover_folder(target)
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.rename(target, old)
    crash_point("folder-aside")
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


def recover_folder(target: str | Path) -> Path:
    """Undo a ``replace_folder`` killed between its renames (``target`` gone, ``<target>.old``
    there: the old version comes back); returns the ``.old`` path."""
    target = Path(target)
    old = target.with_name(f"{target.name}.old")
    if not target.exists() and old.is_dir():
        os.rename(old, target)
    return old


CURRENT = "CURRENT"
"""In a versioned folder: the name of the version subfolder that is current (one line)."""


def publish_version(folder: str | Path, write: Callable[[Path], None], keep: int = 2) -> Path:
    """Write a new version of a set of files that belong together (a FAISS index and its ids)
    into ``folder``: ``write(staging)`` fills a fresh subfolder, which is renamed to ``v<ns>``
    and named in ``CURRENT`` (an atomic write: that is the switch). The previous version stays
    for readers that are loading it (``keep`` versions in all); older ones go. Readers use
    ``current_version``; a folder written before versions (files at its top) reads as before."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".staging-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        write(staging)
        _fsync_files(staging)
        crash_point("version-staged")
        version = folder / f"v{time.time_ns()}"
        os.rename(staging, version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    crash_point("version-renamed")
    write_text_atomically(folder / CURRENT, version.name + "\n")
    crash_point("version-pointed")
    _prune_versions(folder, version.name, keep)
    return version


def current_version(folder: str | Path) -> Path:
    """The folder whose files a reader loads: the version ``CURRENT`` names, else ``folder``."""
    folder = Path(folder)
    try:
        name = (folder / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return folder
    return folder / name


def _prune_versions(folder: Path, current: str, keep: int) -> None:
    versions = sorted((p for p in folder.glob("v[0-9]*") if p.is_dir() and p.name != current),
                      key=lambda p: int(p.name[1:]))
    for old in versions[:max(0, len(versions) - (keep - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    for staging in folder.glob(".staging-*"):  # left by a writer killed mid-way, an hour ago or more
        if time.time() - staging.stat().st_mtime > 3600:
            shutil.rmtree(staging, ignore_errors=True)


def _fsync_files(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def crash_point(step: str) -> None:
    """Fault injection for the tests: ``NLPSUITE_CRASH_AT=<step>`` kills the process there."""
    if os.environ.get("NLPSUITE_CRASH_AT") == step:
        os._exit(77)
