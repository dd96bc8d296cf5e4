"""Batch output: a Parquet folder that appears whole or not at all.

Everything is written under ``<output>.tmp-<random>`` beside the final folder and renamed into
place at the end (a rename within one file system is atomic), so a killed job leaves no half
output under the final name, and a rerun starts clean (old temporary folders of a killed run
are removed first). Layout of a finished folder:

    <output>/part-*.parquet        the job's rows (id and the job's columns)
    <output>/_rejected/*.parquet   rows that could not be processed: _source, _row, id, reason
    <output>/_SUMMARY.json         rows in, out, rejected, seconds, engine, job

Readers (Spark, pyarrow, pandas) skip names that start with ``_``, so the folder reads as the
job's rows alone.
"""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from shared.atomic import crash_point
from shared.errors import NlpSuiteError

SUMMARY_FILE = "_SUMMARY.json"
REJECTED_DIR = "_rejected"


class OutputExistsError(NlpSuiteError, FileExistsError):
    """The output folder exists and overwrite was not asked for."""


class CountMismatchError(NlpSuiteError, RuntimeError):
    """Rows in != rows out + rows rejected: something was lost or duplicated; nothing is published."""


def prepare(output: str | Path, *, overwrite: bool = False) -> Path:
    """A fresh temporary folder beside ``output``; removes leftovers of killed runs."""
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    recover(output)
    if output.exists() and not overwrite:
        raise OutputExistsError(f"{output} exists; pass --overwrite to replace it")
    for stale in output.parent.glob(f"{output.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    temporary = output.parent / f"{output.name}.tmp-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    return temporary


def recover(output: Path) -> None:
    """Put back the previous output that a ``publish`` killed between its two renames left aside."""
    if not output.exists():
        aside = sorted(output.parent.glob(f"{output.name}.tmp-old-*"), key=lambda p: p.stat().st_mtime)
        if aside:
            aside[-1].rename(output)


def publish(temporary: Path, output: str | Path, summary: dict) -> Path:
    """Check the counts, write the summary, and rename the temporary folder into place."""
    rows_in, rows_out, rejected = summary["rows_in"], summary["rows_out"], summary["rows_rejected"]
    if rows_in != rows_out + rejected:
        shutil.rmtree(temporary, ignore_errors=True)
        raise CountMismatchError(f"rows in {rows_in:,} != rows out {rows_out:,} + rows rejected {rejected:,}; "
                                 "nothing was written")
    (temporary / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    output = Path(output).resolve()
    if output.exists():
        old = output.parent / f"{output.name}.tmp-old-{uuid.uuid4().hex[:8]}"
        output.rename(old)
        crash_point("folder-aside")
        temporary.rename(output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        temporary.rename(output)
    return output


def parquet_rows(folder: Path) -> int:
    """Rows in the Parquet files directly in ``folder`` (from their footers)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(path).metadata.num_rows for path in sorted(folder.glob("*.parquet")))
