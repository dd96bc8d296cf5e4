"""Load labelled texts from CSV, JSON Lines or Rasa NLU YAML, and refuse bad rows early.

Every product here fine-tunes on files that users supply, and a bad row found after an hour
of training is a wasted hour. So loading checks every row up front and stops at the first
problem with a DataError that names the file, the line as an editor shows it, and the field.
We decode the bytes ourselves (instead of open(encoding=...)) so an encoding error can say
on which line the bad byte is.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from .errors import DataError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".yml": "yaml", ".yaml": "yaml"}

# Rasa entity annotations: [Berlin](city), [NYC](city:New York), [Berlin]{"entity": "city"}
_ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass
class LabelledTexts:
    """Parallel lists of texts and labels, remembering where each example came from."""

    texts: list[str]
    labels: list[str]
    source: str = ""  # file path or description
    lines: list[int] | None = None  # 1-based source line of each example, when loaded from a file

    def __post_init__(self):
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")
        if self.lines is not None and len(self.lines) != len(self.texts):
            raise ValueError(f"{len(self.texts)} texts but {len(self.lines)} line numbers")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def label_names(self) -> list[str]:
        """Sorted unique labels: a stable label-to-id order for the model head."""
        return sorted(set(self.labels))

    def subset(self, indices: Iterable[int]) -> LabelledTexts:
        """The examples at ``indices``, in that order, keeping their source lines (for error messages)."""
        idx = list(indices)
        lines = [self.lines[i] for i in idx] if self.lines is not None else None
        return LabelledTexts([self.texts[i] for i in idx], [self.labels[i] for i in idx], self.source, lines)

    def label_counts(self) -> dict[str, int]:
        """Examples per label, for class weights and for reports on skewed data."""
        return dict(sorted(Counter(self.labels).items()))


def load_labelled(
    path: str | Path,
    text_col: str = "text",
    label_col: str = "label",
    *,
    format: str | None = None,
    known_labels: Iterable[str] | None = None,
    max_chars: int = 10000,
    encoding: str = "utf-8",
) -> LabelledTexts:
    """Load and validate one file of labelled texts; the format comes from the suffix unless given.

    For YAML (Rasa 3.x NLU) text_col and label_col are ignored: the label is the intent.
    known_labels (the training labels, when loading a test file) rejects any other label.
    """
    path = Path(path)
    fmt = format or FORMATS.get(path.suffix.lower())
    if fmt not in ("csv", "jsonl", "yaml"):
        supported = ", ".join(FORMATS)
        raise DataError(f"unknown format {format or path.suffix!r}; supported: {supported}", path)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", path)
    text = _decode(path, encoding)
    if not text.strip():
        raise DataError("empty file", path)
    if fmt == "yaml":
        text_col, label_col = "text", "intent"
        rows = _yaml_rows(text, path)
    elif fmt == "jsonl":
        rows = _jsonl_rows(text, path, text_col, label_col)
    else:
        rows = _csv_rows(text, path, text_col, label_col)

    known = set(known_labels) if known_labels is not None else None
    texts, labels, lines = [], [], []
    for line, raw_text, raw_label in rows:
        t, lab = raw_text.strip(), raw_label.strip()
        if not t:
            raise DataError("empty text", path, line, text_col)
        if len(t) > max_chars:
            raise DataError(f"text is {len(t)} characters, more than max_chars={max_chars}", path, line, text_col)
        if not lab:
            raise DataError("empty label", path, line, label_col)
        if known is not None and lab not in known:
            raise DataError(f"unknown label {lab!r} (not in the training labels)", path, line, label_col)
        texts.append(t)
        labels.append(lab)
        lines.append(line)
    if not texts:
        raise DataError("no data rows", path)
    return LabelledTexts(texts, labels, str(path), lines)


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(
            f"cannot decode byte 0x{data[e.start]:02x} (column {col}) as {encoding}; "
            f"if the file uses another encoding, pass it, e.g. encoding='latin-1'",
            path,
            line,
        ) from None
    return text[1:] if text.startswith("\ufeff") else text  # tolerate a UTF-8 BOM


def _csv_rows(text: str, path: Path, text_col: str, label_col: str) -> Iterator[tuple[int, str, str]]:
    # newline="" keeps quoted newlines inside fields; reader.line_num counts physical lines,
    # so a record starts one line after where the previous one ended.
    reader = csv.reader(io.StringIO(text, newline=""))
    end = 0
    try:
        header = None
        for row in reader:
            start, end = end + 1, reader.line_num
            if not row:  # blank line
                continue
            if header is None:
                header = [h.strip() for h in row]
                missing = [c for c in (text_col, label_col) if c not in header]
                if missing:
                    found = ", ".join(repr(h) for h in header)
                    raise DataError(f"missing column(s); found: {found}", path, start, ", ".join(missing))
                ti, li = header.index(text_col), header.index(label_col)
                continue
            if len(row) != len(header):
                raise DataError(
                    f"row has {len(row)} field(s) but the header has {len(header)} (unquoted comma or quote?)",
                    path, start, text_col if len(row) <= ti else label_col if len(row) <= li else None,
                )
            yield start, row[ti], row[li]
    except csv.Error as e:
        raise DataError(f"malformed CSV: {e}", path, end + 1) from None


def _jsonl_rows(text: str, path: Path, text_col: str, label_col: str) -> Iterator[tuple[int, str, str]]:
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise DataError(f"invalid JSON: {e.msg} (column {e.colno})", path, n) from None
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}", path, n)
        missing = [c for c in (text_col, label_col) if c not in obj]
        if missing:
            found = ", ".join(repr(k) for k in obj)
            raise DataError(f"missing field(s); found: {found}", path, n, ", ".join(missing))
        yield n, _as_str(obj[text_col], path, n, text_col), _as_str(obj[label_col], path, n, label_col)


def _as_str(value, path: Path, line: int, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):  # numeric class ids are common
        return str(value)
    raise DataError(f"expected a string, got {type(value).__name__}", path, line, field)


def _yaml_rows(text: str, path: Path) -> Iterator[tuple[int, str, str]]:
    """Rasa 3.x NLU: `nlu:` is a list of `- intent: NAME` with an `examples: |` block of `- text` lines.

    We walk the composed node tree (not the loaded dict) because only nodes know their line.
    Other `nlu:` items (synonym, regex, lookup) are not examples and are skipped.
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise DataError(f"invalid YAML: {getattr(e, 'problem', None) or e}", path,
                        mark.line + 1 if mark else None) from None
    nlu = _get(root, "nlu") if isinstance(root, yaml.MappingNode) else None
    if not isinstance(nlu, yaml.SequenceNode):
        raise DataError("expected a top-level 'nlu:' list (Rasa 3.x NLU format)", path, 1, "nlu")
    for item in nlu.value:
        if not isinstance(item, yaml.MappingNode) or _get(item, "intent") is None:
            continue
        intent, examples = _get(item, "intent"), _get(item, "examples")
        line = item.start_mark.line + 1
        label = intent.value if isinstance(intent, yaml.ScalarNode) else ""
        if not isinstance(examples, yaml.ScalarNode):
            raise DataError("expected 'examples: |' followed by '- text' lines", path, line, "examples")
        # In a block scalar (|) the content starts on the line after the header.
        first = examples.start_mark.line + 2 if examples.style == "|" else examples.start_mark.line + 1
        for k, raw in enumerate(examples.value.split("\n")):
            n = first + k if examples.style == "|" else first
            if not raw.strip():
                continue
            if not raw.lstrip().startswith("-"):
                raise DataError("expected an example line starting with '- '", path, n, "examples")
            yield n, _ENTITY.sub(r"\1", raw.lstrip()[1:]), label


def _get(mapping: yaml.MappingNode, key: str):
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None
