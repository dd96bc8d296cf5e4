"""Run a batch job over files with an engine: in this process, or on Apache Spark.

Both engines schedule the same splits (``shared.batch.sources``), call the same
``apply_job`` and write the same folder (``shared.batch.output``). On Spark:

- the splits become a small DataFrame (one row per split, ``--partitions`` of them at most
  per task) and ``mapInPandas`` reads, checks and processes each split inside the Python
  workers; every input row comes back once, as a result or as a rejected row;
- the model folder travels with the job (a zip archive, ``SparkContext.addArchive``, unpacked
  once per executor); each Python worker loads it once and keeps it for every batch it gets,
  with one intra-op thread per task;
- a lost executor's tasks are run again elsewhere (Spark's task retries: ``local[N,4]`` in
  local mode, ``spark.task.maxFailures`` on a cluster); the output committer keeps one
  attempt's files per task, so the output holds every id once;
- progress is Spark's console progress bar (stderr).

Master ``inprocess`` runs without Spark (and without Java), the baseline the benchmark
compares Spark with.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from shared.batch.jobs import ID, REJECTED_COLUMNS, Columns, apply_job
from shared.batch.output import REJECTED_DIR, parquet_rows, prepare, publish
from shared.batch.sources import Split, count_rows, discover, plan, read_split

logger = logging.getLogger(__name__)
CHUNK_ROWS = 8192
"""Rows per job call inside a split: bounds memory and keeps Spark's Arrow batches small."""
KIND = "_kind"


def _chunks(job, split: Split, columns: Columns):
    frame = read_split(split)
    for start in range(0, len(frame), CHUNK_ROWS):
        yield apply_job(job, frame.iloc[start:start + CHUNK_ROWS].reset_index(drop=True), columns)


def run_inprocess(job, splits: list[Split], temporary: Path, columns: Columns, *, progress: bool = True) -> dict:
    """Every split in this process, one after another; Parquet parts as they come."""
    from tqdm.auto import tqdm

    (temporary / REJECTED_DIR).mkdir(exist_ok=True)
    part = 0
    with tqdm(total=len(splits), desc=f"{job.name} (in-process)", unit="split", disable=not progress) as bar:
        for split in splits:
            for ok, rejected in _chunks(job, split, columns):
                if len(ok):
                    ok.to_parquet(temporary / f"part-{part:05d}.parquet", index=False)
                if len(rejected):
                    rejected.to_parquet(temporary / REJECTED_DIR / f"part-{part:05d}.parquet", index=False)
                part += 1
            bar.update(1)
    return {"engine": "inprocess", "executors": 0, "partitions": 1}


def spark_session(master: str, *, app_name: str = "nlpsuite-batch", local_dir: str | None = None, conf: dict | None = None):
    """A classic (py4j) SparkSession on ``master`` whose Python workers run this interpreter.

    Binds loopback unless ``SPARK_LOCAL_IP`` says otherwise; ``local[N]`` becomes
    ``local[N,4]`` so that a failed task is retried as on a cluster."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    if master.startswith("local[") and "," not in master:
        master = master[:-1] + ",4]"
    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.ui.showConsoleProgress", "true")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(CHUNK_ROWS))
               .config("spark.executorEnv.OMP_NUM_THREADS", "1")
               .config("spark.sql.session.timeZone", "UTC")  # timestamps without an offset are UTC
               .config("spark.pyspark.python", sys.executable)
               .config("spark.local.dir", local_dir or tempfile.mkdtemp(prefix="nlpsuite-spark-")))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def _spark_schema(job) -> str:
    fields = [f"{ID} string"] + [f"{name} {kind}" for name, kind in job.output_schema()]
    fields += [f"{KIND} string", "_source string", "_row long", "reason string"]
    return ", ".join(fields)


def _ship(session, job, work: Path):
    """The job with its model folder shipped to the executors as a zip archive, which each
    executor unpacks once (``addArchive``: a cluster cannot be sent a local directory); a
    registry name ships nothing."""
    field = "model_dir" if hasattr(job, "model_dir") else "model"
    folder = Path(str(getattr(job, field)))
    if not folder.is_dir():
        return job, None
    work.mkdir(parents=True, exist_ok=True)
    archive = shutil.make_archive(str(work / f"{folder.resolve().name}-model"), "zip", root_dir=folder)
    session.sparkContext.addArchive(archive)
    return job, (field, Path(archive).name)


def _worker_function(job, shipped, columns: Columns, output_columns: list[str]):
    """What each Python worker runs on its splits (a plain function: Spark pickles it)."""

    def process(batches):
        local_job = job
        if shipped is not None:
            from pyspark import SparkFiles

            local_job = dataclasses.replace(job, **{shipped[0]: SparkFiles.get(shipped[1])})
        for batch in batches:
            for record in batch.to_dict("records"):
                split = Split(record["path"], record["format"], int(record["start"]), int(record["end"]))
                for ok, rejected in _chunks(local_job, split, columns):
                    if len(ok):
                        ok = ok.copy()
                        ok[KIND], ok["_source"], ok["_row"], ok["reason"] = "ok", None, None, None
                        yield ok.reindex(columns=output_columns)
                    if len(rejected):
                        out = pd.DataFrame({name: [None] * len(rejected) for name in output_columns})
                        for name in REJECTED_COLUMNS:
                            out[name] = rejected[name].values
                        out[KIND] = "rejected"
                        yield out
    return process


def run_spark(job, splits: list[Split], temporary: Path, columns: Columns, *, master: str = "local[2]",
              partitions: int | None = None, session=None) -> dict:
    """Every split as a Spark task (see the module doc)."""
    from pyspark import StorageLevel

    own_session = session is None
    session = session or spark_session(master, local_dir=str(temporary.parent / f".{temporary.name}-spark"))
    try:
        job, shipped = _ship(session, job, temporary.parent / f".{temporary.name}-ship")
        n = max(1, min(len(splits), partitions or max(len(splits), session.sparkContext.defaultParallelism)))
        table = pd.DataFrame([s.to_dict() for s in splits])
        frame = session.createDataFrame(table, "path string, format string, start long, end long").repartition(n)
        schema = _spark_schema(job)
        output_columns = [part.split(" ")[0] for part in schema.split(", ")]
        result = frame.mapInPandas(_worker_function(job, shipped, columns, output_columns), schema)
        result = result.persist(StorageLevel.MEMORY_AND_DISK)
        job_columns = [ID] + [name for name, _ in job.output_schema()]
        result.where(f"{KIND} = 'ok'").select(*job_columns).write.parquet(str(temporary / "data"))
        result.where(f"{KIND} = 'rejected'").select(*REJECTED_COLUMNS).coalesce(1).write.parquet(
            str(temporary / "rejected"))
        result.unpersist()
        executors = session.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - (0 if master.startswith("local") else 1)
        return {"engine": "spark-local" if master.startswith("local") else "spark-standalone", "master": master,
                "partitions": n, "executors": int(max(1, executors))}
    finally:
        if own_session:
            session.stop()
        _settle(temporary)


def _settle(temporary: Path) -> None:
    """Spark's two write folders into the published layout: parts at the top, ``_rejected``."""
    data, rejected = temporary / "data", temporary / "rejected"
    if data.is_dir():
        for path in data.glob("*.parquet"):
            path.rename(temporary / path.name)
        shutil.rmtree(data)
    (temporary / REJECTED_DIR).mkdir(exist_ok=True)
    if rejected.is_dir():
        for path in rejected.glob("*.parquet"):
            path.rename(temporary / REJECTED_DIR / path.name)
        shutil.rmtree(rejected)
    for scratch in ("spark", "ship"):
        shutil.rmtree(temporary.parent / f".{temporary.name}-{scratch}", ignore_errors=True)


def run(job, input_spec: str | Path, output: str | Path, columns: Columns, *, master: str = "inprocess",
        partitions: int | None = None, overwrite: bool = False, progress: bool = True, session=None) -> dict:
    """Run ``job`` over the files ``input_spec`` names into the folder ``output``; returns the
    summary (also written as ``_SUMMARY.json``). Nothing appears under ``output`` unless every
    row is accounted for."""
    files = discover(input_spec)
    splits = plan(files)
    started = time.perf_counter()
    rows_in = count_rows(splits)
    temporary = prepare(output, overwrite=overwrite)
    try:
        if master == "inprocess":
            details = run_inprocess(job, splits, temporary, columns, progress=progress)
        else:
            details = run_spark(job, splits, temporary, columns, master=master, partitions=partitions, session=session)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    seconds = time.perf_counter() - started
    rows_out, rejected = parquet_rows(temporary), parquet_rows(temporary / REJECTED_DIR)
    summary = {"job": job.name, "input": str(input_spec), "output": str(Path(output).resolve()),
               "files": len(files), "splits": len(splits), "rows_in": rows_in, "rows_out": rows_out,
               "rows_rejected": rejected, "seconds": round(seconds, 2),
               "rows_per_s": round(rows_in / seconds, 1) if seconds > 0 else None,
               "threads_per_task": getattr(job, "threads", None), **details}
    publish(temporary, output, summary)
    return summary
