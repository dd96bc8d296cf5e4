"""Batch jobs, engine-independent: a job maps a batch of rows (pandas) to a batch of rows; the
engines (in this process, or Apache Spark's ``mapInPandas``) run it over Parquet, CSV or JSONL
files into a Parquet folder, with every rejected row kept and counted (``run``)."""
from shared.lazy import lazy_exports

_HOMES = {"Columns": "jobs", "EmbedJob": "jobs", "ScoreJob": "jobs", "apply_job": "jobs",
          "run": "engines", "spark_session": "engines"}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
