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
from pathlib import Path


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
    (``<target>.old``) and removed only after the new one is in place."""
    new, target = Path(new), Path(target)
    old = target.with_name(f"{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)
