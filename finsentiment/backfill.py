"""`finsentiment backfill`: years of news scored before the monitor goes live, so the dashboard
shows the history and the alert rules compare today against a real baseline from day one.

1. **Score** the archive with the monitor's own model through the core's batch job on Spark
   (``shared.batch``: rejected rows kept with file, row and reason; nothing half-written).
2. **Topics** with the monitor's own rules (``TopicMatcher``: keywords and tickers; the
   embedding rule, when configured, is left to live polling), in ``mapInPandas``.
3. **Daily negative share per topic in Spark SQL** over the archive's timestamps joined with
   the scores and the topics.
4. **Load** the daily rows into the monitor's database (``topic_history``), replacing what an
   earlier backfill wrote for the same days; ``finsentiment.trends`` counts them for every
   whole day that has no live article of the topic.

The archive: Parquet, CSV or JSONL with an id, a timestamp (ISO 8601 or unix seconds) and a
headline column (``--id-col``, ``--time-col``, ``--text-col``).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from finsentiment.config import FinSentimentConfig
from shared.data import DataError

logger = logging.getLogger(__name__)

DAILY_SQL = """
SELECT t.topic AS topic, to_date(a.event_time) AS day, COUNT(*) AS n_items,
       SUM(CASE WHEN s.label = 'negative' THEN 1 ELSE 0 END) AS n_negative,
       SUM(CASE WHEN s.label = 'positive' THEN 1 ELSE 0 END) AS n_positive
FROM archive_topics t
JOIN archive_scores s ON s.id = t.id
JOIN archive_times a ON a.id = t.id
WHERE a.event_time IS NOT NULL
GROUP BY t.topic, to_date(a.event_time)
"""


def _read(session, path: str):
    """The archive as a Spark DataFrame (format from the file suffix)."""
    from shared.batch.sources import FORMATS, discover

    files = [str(p) for p in discover(path)]
    kinds = {FORMATS[Path(f).suffix.lower()] for f in files}
    if len(kinds) != 1:
        raise DataError(f"one format per archive, got {', '.join(sorted(kinds))}")
    kind = kinds.pop()
    reader = session.read
    if kind == "csv":
        return reader.option("header", True).option("multiLine", True).option("escape", '"').csv(files)
    if kind == "jsonl":
        return reader.option("mode", "PERMISSIVE").json(files)
    return reader.parquet(*files)


def _topic_rows(matcher, id_col: str, text_col: str):
    def assign(batches):
        import pandas as pd

        for batch in batches:
            texts = ["" if not isinstance(t, str) else t for t in batch[text_col].tolist()]
            ids, topics = [], []
            for identifier, matches in zip(batch[id_col].tolist(), matcher.match(texts)):
                for match in matches:
                    ids.append(str(identifier))
                    topics.append(match.topic)
            yield pd.DataFrame({"id": ids, "topic": topics})
    return assign


def backfill(config: FinSentimentConfig, archive: str, *, master: str = "local[2]", id_col: str = "id",
             time_col: str = "published", text_col: str = "title", work_dir: str | Path | None = None,
             session=None) -> dict:
    """Score, assign topics, aggregate per day and load (see the module doc); a summary."""
    from pyspark.sql import functions as F

    from finsentiment.classify import TopicMatcher
    from finsentiment.store import Store, TopicHistory
    from shared.batch import Columns, ScoreJob, run, spark_session

    work = Path(work_dir or Path(config.database_url.replace("sqlite:///", "")).parent / "backfill")
    work.mkdir(parents=True, exist_ok=True)
    own = session is None
    session = session or spark_session(master, app_name="nlpsuite-backfill", local_dir=str(work / "spark-local"))
    try:
        scored = run(ScoreJob(config.model_dir, top_k=3), archive, work / "scored", Columns(text_col, id_col),
                     master=master, overwrite=True, session=session)
        frame = _read(session, archive)
        for column in (id_col, time_col, text_col):
            if column not in frame.columns:
                raise DataError(f"no column {column!r} (columns: {', '.join(frame.columns)})", archive, field=column)
        quoted = f"`{time_col}`"  # ISO 8601 text, or unix seconds; anything else is NULL (not counted)
        event_time = F.expr(f"coalesce(try_to_timestamp(CAST({quoted} AS STRING)), "
                            f"timestamp_seconds(try_cast({quoted} AS DOUBLE)))")
        frame.select(F.col(id_col).cast("string").alias("id"), event_time.alias("event_time")) \
            .createOrReplaceTempView("archive_times")
        session.read.parquet(str(work / "scored")).createOrReplaceTempView("archive_scores")
        matcher = TopicMatcher(config.topics)  # keywords and tickers; no embedder on the executors
        frame.select(F.col(id_col).cast("string").alias(id_col), F.col(text_col).cast("string").alias(text_col)) \
            .mapInPandas(_topic_rows(matcher, id_col, text_col), "id string, topic string") \
            .createOrReplaceTempView("archive_topics")
        daily = [row.asDict() for row in session.sql(DAILY_SQL).collect()]
    finally:
        if own:
            session.stop()

    store = Store(config.database_url)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    with store.session() as db:
        for row in daily:
            db.query(TopicHistory).filter(TopicHistory.topic == row["topic"], TopicHistory.day == row["day"]).delete()
            db.add(TopicHistory(topic=row["topic"], day=row["day"], n_items=int(row["n_items"]),
                                n_negative=int(row["n_negative"]), n_positive=int(row["n_positive"]),
                                source=str(archive), loaded_at=loaded_at))
    store.dispose()
    days = sorted({row["day"] for row in daily})
    summary = {"archive": str(archive), "rows_in": scored["rows_in"], "rows_scored": scored["rows_out"],
               "rows_rejected": scored["rows_rejected"], "rejected_at": str(work / "scored" / "_rejected"),
               "topic_days": len(daily), "topics": sorted({row["topic"] for row in daily}),
               "first_day": days[0].isoformat() if days else None, "last_day": days[-1].isoformat() if days else None,
               "scoring_seconds": scored["seconds"], "engine": scored["engine"]}
    logger.info("backfill: %d topic-days from %s", len(daily), archive)
    return summary
