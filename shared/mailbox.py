"""One way to keep a mail as a file: ``<UTC time>-<pid>-<n>.eml`` in a folder, written to a
temporary name and renamed, so a reader (a mail client, the tests, the tour) never sees half a
message and two writers never take the same name. The suite's local SMTP outbox and the
sentiment monitor's outbox notifier both store mail this way.
"""
from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

_counter = itertools.count()


def store_eml(folder: str | os.PathLike, message: bytes | str) -> Path:
    """Write ``message`` (the raw RFC 5322 bytes) as a new .eml file in ``folder``; its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{os.getpid()}-{next(_counter)}.eml"
    body = message.encode("utf-8") if isinstance(message, str) else message
    partial = folder / f".{name}.part"
    partial.write_bytes(body)
    return partial.replace(folder / name)
