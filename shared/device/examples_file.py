"""Reading what a device owner teaches: CSV or JSON Lines with the columns ``text`` and ``label``.

Every row is checked before anything is learned, and the first problem stops with the file, the
line as an editor shows it and the field: a missing file, undecodable bytes, an empty text or
label, a malformed row. Nothing is learned from a file that has one bad row.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .bundle import DeviceError


class ExamplesFileError(DeviceError):
    """A teaching file that cannot be used as it is; the message names file, line and field."""


def _where(path: Path, line: int | None, field: str | None) -> str:
    return f"{path}" + (f":{line}" if line else "") + (f": field '{field}'" if field else "")


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ExamplesFileError(f"{path}: file not found") from None
    except OSError as exc:
        raise ExamplesFileError(f"{path}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ExamplesFileError(f"{_where(path, line, None)}: not UTF-8 (byte 0x{raw[exc.start]:02x})") from None


def _rows(path: Path, text: str):
    """(line, record) pairs of a CSV or JSONL file."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ExamplesFileError(f"{_where(path, n, None)}: not a JSON object ({exc.msg})") from None
            if not isinstance(record, dict):
                raise ExamplesFileError(f"{_where(path, n, None)}: not a JSON object")
            yield n, record
        return
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"text", "label"} <= set(reader.fieldnames):
        raise ExamplesFileError(f"{_where(path, 1, None)}: the header must name the columns text and label "
                                f"(found {', '.join(reader.fieldnames or []) or 'nothing'})")
    for record in reader:
        yield reader.line_num, record


def read_examples(path: str | Path) -> tuple[list[str], list[str]]:
    """(texts, labels) of a CSV (header ``text,label``) or JSONL file, every row checked."""
    path = Path(path)
    texts, labels = [], []
    for line, record in _rows(path, _decode(path)):
        for name in ("text", "label"):
            value = record.get(name)
            if not isinstance(value, str) or not value.strip():
                problem = "missing" if value is None else "empty" if isinstance(value, str) else "not a string"
                raise ExamplesFileError(f"{_where(path, line, name)}: {problem}")
        texts.append(record["text"].strip())
        labels.append(record["label"].strip())
    if not texts:
        raise ExamplesFileError(f"{path}: no examples")
    return texts, labels
