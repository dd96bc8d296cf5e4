"""Batch jobs on Apache Spark: local[2] gives what the in-process engine gives; a real standalone
master and worker on 127.0.0.1 run the job in an executor of their own; an executor killed in
the middle of a job is replaced and the output still holds every id once."""
from __future__ import annotations

import json
import threading
import time

import pandas as pd
import pytest

pytest.importorskip("pyspark")
psutil = pytest.importorskip("psutil")

from shared.batch import Columns, ScoreJob, run  # noqa: E402
from shared.batch.output import REJECTED_DIR  # noqa: E402

pytestmark = pytest.mark.timeout(300)


def write_inputs(folder, texts, bad=True):
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"h{n}", "text": text} for n, text in enumerate(texts)]
    half = len(rows) // 2
    pd.DataFrame(rows[:half]).to_parquet(folder / "part-a.parquet", row_group_size=max(1, half // 4))
    lines = [json.dumps(r) for r in rows[half:]]
    if bad:
        lines += ['{"id": "bad-1", "text": ""}', "not json", '{"text": "no id"}']
    (folder / "part-b.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from shared.batch import spark_session

    session = spark_session("local[2]", local_dir=str(tmp_path_factory.mktemp("spark-local")))
    yield session
    session.stop()


def test_local_spark_matches_the_in_process_engine(spark, tmp_path, tiny_onnx_int8, tiny_data):
    texts = [text for text, _ in tiny_data.test_rows] * 4
    inputs = write_inputs(tmp_path / "in", texts)
    job, columns = ScoreJob(str(tiny_onnx_int8)), Columns("text", "id")
    on_spark = run(job, inputs, tmp_path / "spark", columns, master="local[2]", session=spark, progress=False)
    alone = run(job, inputs, tmp_path / "alone", columns, master="inprocess", progress=False)
    assert on_spark["rows_in"] == alone["rows_in"] == len(texts) + 3
    assert (on_spark["rows_out"], on_spark["rows_rejected"]) == (alone["rows_out"], alone["rows_rejected"]) == (len(texts), 3)
    a = pd.read_parquet(tmp_path / "spark").sort_values("id").reset_index(drop=True)
    b = pd.read_parquet(tmp_path / "alone").sort_values("id").reset_index(drop=True)
    assert a["id"].tolist() == b["id"].tolist() and a["label"].tolist() == b["label"].tolist()
    assert a["confidence"].tolist() == pytest.approx(b["confidence"].tolist(), abs=1e-6)
    rejected = pd.read_parquet(tmp_path / "spark" / REJECTED_DIR)
    assert sorted(rejected["reason"].str.split(" ").str[0]) == ["empty", "missing", "not"]
    assert set(rejected["_source"].str.rsplit("/", n=1).str[-1]) == {"part-b.jsonl"}


def test_batch_command_on_local_spark(tmp_path, capsys, tiny_onnx_int8):
    from shared.app.cli import main

    inputs = write_inputs(tmp_path / "in", ["a fine day for markets", "shares fell"] * 5, bad=False)
    code = main(["batch", "score", "--model", str(tiny_onnx_int8), "--input", str(inputs / "*.*"),
                 "--text-col", "text", "--id-col", "id", "--output", str(tmp_path / "out"), "--master", "local[2]",
                 "--no-progress"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and summary["rows_in"] == summary["rows_out"] == 10 and summary["engine"] == "spark-local"
    code = main(["batch", "score", "--model", str(tiny_onnx_int8), "--input", str(inputs), "--text-col", "text",
                 "--output", str(tmp_path / "out"), "--master", "inprocess", "--no-progress"])
    assert code == 2 and "exists; pass --overwrite" in capsys.readouterr().err


def _executors():
    return [p for p in psutil.process_iter(["cmdline"])
            if "CoarseGrainedExecutorBackend" in " ".join(p.info["cmdline"] or [])]


def test_standalone_cluster_survives_a_killed_executor(tmp_path, tiny_onnx_int8, tiny_data):
    """A real master and worker; mid-job the executor's JVM is killed (SIGKILL). The worker
    starts another, Spark runs the lost tasks again, and every id is in the output once."""
    from shared.batch import spark_session
    from shared.batch.cluster import LocalCluster

    texts = [text for text, _ in tiny_data.train_rows] * 80  # about 14,400 rows in 16 splits: long enough to kill one
    inputs = write_inputs(tmp_path / "in", texts, bad=False)
    with LocalCluster(tmp_path / "cluster", cores=2) as cluster:
        session = spark_session(cluster.url, local_dir=str(tmp_path / "driver-local"),
                                conf={"spark.executor.memory": "1g"})
        try:
            result: dict = {}
            worker = threading.Thread(target=lambda: result.update(run(
                ScoreJob(str(tiny_onnx_int8)), inputs, tmp_path / "out", Columns("text", "id"), master=cluster.url,
                partitions=16, session=session, progress=False)))
            worker.start()
            killed = None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and killed is None and worker.is_alive():
                tracker = session.sparkContext.statusTracker()
                stages = [tracker.getStageInfo(s) for s in tracker.getActiveStageIds()]
                if any(s and s.numCompletedTasks >= 1 and s.numActiveTasks >= 1 for s in stages) and _executors():
                    killed = _executors()[0]
                    killed.kill()
                time.sleep(0.1)
            worker.join(240)
        finally:
            session.stop()
    assert killed is not None, "the job ended before an executor could be killed"
    assert result["rows_in"] == result["rows_out"] == len(texts) and result["engine"] == "spark-standalone"
    ids = pd.read_parquet(tmp_path / "out")["id"]
    assert len(ids) == len(texts) and ids.is_unique
