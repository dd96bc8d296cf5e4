"""Batch inputs: Parquet, CSV or JSONL files (a file, a folder or a glob) cut into splits, and a
split read into a pandas frame whose every row knows its file and row number.

The engines (in-process, Spark) schedule splits, not rows, so any engine reads a split the
same way and a rejected row can always be traced back (``_source``, ``_row``). Splits:

- Parquet: one per row group (row numbers from the row groups' offsets in the footer);
- JSONL: line-aligned byte ranges of about ``split_bytes`` (row = line number: a task counts
  the line breaks before its range, a fast scan of bytes);
- CSV: one per file (a quoted field may hold a line break, so a CSV file cannot be cut at an
  arbitrary line); give a large CSV as several files, or as JSONL or Parquet.

A row that cannot be decoded (bytes that are not UTF-8, a line that is not JSON, a CSV row
with the wrong number of fields) is not dropped: it comes back with ``_error`` set, and the
job reports it in the rejected part.
"""
from __future__ import annotations

import csv
import glob
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from shared.data import DataError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SPLIT_BYTES = 32 * 2**20
SOURCE, ROW, ERROR = "_source", "_row", "_error"


@dataclass(frozen=True)
class Split:
    """One task's share of the input: a file, its format, and a row group or a byte range."""

    path: str
    format: str
    start: int = 0
    """Parquet: the row group; JSONL: the first byte (at a line start); CSV: 0."""
    end: int = -1
    """JSONL: the byte after the range (-1: the end of the file)."""

    def to_dict(self) -> dict:
        return asdict(self)


def discover(spec: str | Path) -> list[Path]:
    """The input files named by ``spec``: a file, a folder (its supported files, recursively,
    skipping names that start with ``_`` or ``.``) or a glob; sorted, so splits are stable."""
    path = Path(spec)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = [p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in FORMATS
                 and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)]
    else:
        files = [Path(p) for p in sorted(glob.glob(str(spec), recursive=True)) if Path(p).is_file()]
        if not files:
            raise DataError("no such file, folder or matching glob", spec)
    unknown = [p for p in files if p.suffix.lower() not in FORMATS]
    if unknown:
        raise DataError(f"unsupported input format (use {', '.join(sorted(set(FORMATS)))})", unknown[0])
    if not files:
        raise DataError(f"no input files ({', '.join(sorted(set(FORMATS)))}) in the folder", spec)
    return files


def plan(files: list[Path], split_bytes: int = SPLIT_BYTES) -> list[Split]:
    """Cut the files into splits (see the module doc)."""
    import pyarrow.parquet as pq

    splits: list[Split] = []
    for path in files:
        kind = FORMATS[path.suffix.lower()]
        if kind == "parquet":
            try:
                groups = pq.ParquetFile(path).metadata.num_row_groups
            except Exception as exc:  # not Parquet at all: the whole file is one bad input
                raise DataError(f"not a readable Parquet file: {exc}", path) from None
            splits += [Split(str(path), kind, group) for group in range(groups)]
        elif kind == "jsonl":
            size = path.stat().st_size
            if size <= split_bytes:
                splits.append(Split(str(path), kind, 0, -1))
                continue
            with open(path, "rb") as handle:
                start = 0
                while start < size:
                    handle.seek(min(size, start + split_bytes))
                    handle.readline()  # to the end of the line that crosses the boundary
                    end = min(size, handle.tell()) if start + split_bytes < size else size
                    splits.append(Split(str(path), kind, start, end))
                    start = end
        else:
            splits.append(Split(str(path), kind))
    return splits


def count_rows(splits: list[Split]) -> int:
    """Rows in the input counted apart from the job (Parquet footers, JSONL non-blank lines, CSV
    records): what rows out + rows rejected must add up to."""
    import pyarrow.parquet as pq

    total = 0
    for path in sorted({s.path for s in splits}):
        kind = FORMATS[Path(path).suffix.lower()]
        if kind == "parquet":
            total += pq.ParquetFile(path).metadata.num_rows
        elif kind == "jsonl":
            with open(path, "rb") as handle:
                total += sum(1 for line in handle if line.strip())
        else:
            with open(path, "rb") as handle:
                text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="")
                total += max(0, sum(1 for _ in csv.reader(text)) - 1)
    return total


def read_split(split: Split) -> pd.DataFrame:
    """The split's rows with ``_source``, ``_row`` and ``_error`` (None for a good row)."""
    if split.format == "parquet":
        return _read_parquet(split)
    if split.format == "jsonl":
        return _read_jsonl(split)
    return _read_csv(split)


def _frame(records: list[dict], split: Split) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=[SOURCE, ROW, ERROR])
    frame[SOURCE] = split.path
    return frame


def _read_parquet(split: Split) -> pd.DataFrame:
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(split.path)
    first = sum(handle.metadata.row_group(g).num_rows for g in range(split.start))
    frame = handle.read_row_group(split.start).to_pandas()
    frame[ROW] = range(first + 1, first + 1 + len(frame))
    frame[ERROR] = None
    frame[SOURCE] = split.path
    return frame


def _read_jsonl(split: Split) -> pd.DataFrame:
    with open(split.path, "rb") as handle:
        line_number = 1
        if split.start:
            remaining = split.start
            while remaining:  # the line breaks before the range give its first line number
                chunk = handle.read(min(remaining, 8 * 2**20))
                line_number += chunk.count(b"\n")
                remaining -= len(chunk)
        data = handle.read() if split.end < 0 else handle.read(split.end - split.start)
    records = []
    for offset, raw in enumerate(data.split(b"\n")):
        if not raw.strip():
            continue
        row = line_number + offset
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            records.append({ROW: row, ERROR: f"undecodable bytes (not UTF-8) at byte {exc.start}"})
            continue
        except json.JSONDecodeError as exc:
            records.append({ROW: row, ERROR: f"not JSON: {exc.msg} at column {exc.colno}"})
            continue
        if not isinstance(value, dict):
            records.append({ROW: row, ERROR: f"a JSON {type(value).__name__}, not an object"})
            continue
        records.append({**value, ROW: row, ERROR: None})
    return _frame(records, split)


def _read_csv(split: Split) -> pd.DataFrame:
    with open(split.path, "rb") as handle:
        data = handle.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(lines, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return _frame([], split)
    records = []
    row = 1
    for fields in reader:
        row = reader.line_num  # the line the record ends on, as an editor counts
        if not fields or all(not f.strip() for f in fields):
            continue
        bad = next((f for f in fields if any(0xDC80 <= ord(c) <= 0xDCFF for c in f)), None)
        if bad is not None:
            records.append({ROW: row, ERROR: "undecodable bytes (not UTF-8)"})
        elif len(fields) != len(header):
            records.append({ROW: row, ERROR: f"{len(fields)} fields where the header has {len(header)}"})
        else:
            records.append({**dict(zip(header, fields)), ROW: row, ERROR: None})
    return _frame(records, split)
