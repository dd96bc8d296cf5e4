"""Batch jobs without any engine: splits and row numbers, row checks with reasons, the score and
embed jobs, and the in-process runner's output folder (whole or nothing, every row counted)."""
from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared.batch import Columns, ScoreJob, apply_job, run
from shared.batch.output import REJECTED_DIR, SUMMARY_FILE, OutputExistsError
from shared.batch.sources import count_rows, discover, plan, read_split
from shared.data import DataError


class UpperJob:
    """A job without a model: the text upper-cased (what the engines need of a job)."""

    name = "upper"

    def __call__(self, texts):
        return pd.DataFrame({"upper": [t.upper() for t in texts]})

    @staticmethod
    def output_schema():
        return [("upper", "string")]


def write_jsonl(path, rows):
    path.write_bytes(b"".join(row if isinstance(row, bytes) else (json.dumps(row) + "\n").encode() for row in rows))
    return path


def test_jsonl_splits_keep_line_numbers(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": n, "text": f"headline number {n}"} for n in range(1, 301)])
    splits = plan([path], split_bytes=1000)
    assert len(splits) > 5 and splits[0].start == 0 and splits[-1].end == path.stat().st_size
    assert all(a.end == b.start for a, b in zip(splits, splits[1:]))  # contiguous, no byte twice
    frames = [read_split(s) for s in splits]
    rows = [r for f in frames for r in f["_row"].tolist()]
    assert rows == list(range(1, 301))  # every line once, numbered as an editor numbers them
    assert all(f["id"].tolist() == f["_row"].tolist() for f in frames)
    assert count_rows(splits) == 300


def test_parquet_row_groups_are_splits_with_row_numbers(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": [f"t{n}" for n in range(10)]}), path, row_group_size=4)
    splits = plan([path])
    assert [s.start for s in splits] == [0, 1, 2]
    assert [r for s in splits for r in read_split(s)["_row"]] == list(range(1, 11))
    assert count_rows(splits) == 10


def test_bad_rows_come_back_with_file_row_and_reason(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [
        {"id": "a1", "text": "fine"}, {"id": "a2", "text": ""}, {"id": "a3", "text": 42},
        b"not json at all\n", b'{"id": "a5", "text": "caf\xe9"}\n', {"text": "no id here"},
        {"id": "a7", "text": "x" * 20_001}, [1, 2], {"id": "a9", "text": "   "}])
    csv = tmp_path / "b.csv"
    csv.write_bytes(b"id,text\nb1,good row\nb2,too,many\nb3,caf\xe9 latin-1\nb4,\n")
    frame = pd.concat([read_split(s) for s in plan(discover(tmp_path))], ignore_index=True)
    ok, rejected = apply_job(UpperJob(), frame, Columns("text", "id"))
    assert ok["id"].tolist() == ["a1", "b1"] and ok["upper"].tolist() == ["FINE", "GOOD ROW"]
    reasons = {(source.rsplit("/", 1)[-1], row): reason
               for source, row, reason in zip(rejected["_source"], rejected["_row"], rejected["reason"])}
    assert len(ok) + len(rejected) == len(frame) == 13
    assert reasons[("a.jsonl", 2)].startswith("empty text")
    assert reasons[("a.jsonl", 3)].startswith("text is int, not a string")
    assert reasons[("a.jsonl", 4)].startswith("not JSON")
    assert reasons[("a.jsonl", 5)].startswith("undecodable bytes")
    assert reasons[("a.jsonl", 6)].startswith("missing id")
    assert "over the 20,000 limit" in reasons[("a.jsonl", 7)]
    assert reasons[("a.jsonl", 8)] == "a JSON list, not an object"
    assert reasons[("a.jsonl", 9)].startswith("empty text")
    assert reasons[("b.csv", 3)] == "3 fields where the header has 2"
    assert reasons[("b.csv", 4)].startswith("undecodable bytes")
    assert reasons[("b.csv", 5)].startswith("empty text")


def test_a_missing_text_column_rejects_every_row_by_name(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"title": "x"}, {"title": "y"}])
    ok, rejected = apply_job(UpperJob(), read_split(plan([path])[0]), Columns("text"))
    assert ok.empty and len(rejected) == 2
    assert set(rejected["reason"]) == {"no column 'text' (columns: title)"}
    assert rejected["id"].tolist() == [f"{path}:1", f"{path}:2"]  # no id column: file:row


def test_discover_names_what_is_wrong(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        discover(tmp_path / "missing" / "*.jsonl")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="unsupported input format"):
        discover(tmp_path / "notes.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no input files"):
        discover(empty)
    (empty / "_hidden.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(DataError, match="no input files"):
        discover(empty)  # names starting with _ or . are not inputs (Spark's own convention)


def test_score_job_matches_the_predictor(tiny_onnx_int8, tiny_data):
    from shared.inference import Predictor

    texts = [text for text, _ in tiny_data.test_rows[:20]]
    scored = ScoreJob(str(tiny_onnx_int8), top_k=2)(texts)
    expected = Predictor(tiny_onnx_int8, threads=1).predict(texts, top_k=2)
    assert scored["label"].tolist() == [p.label for p in expected]
    assert scored["confidence"].tolist() == pytest.approx([p.confidence for p in expected], abs=1e-6)
    assert [list(x) for x in scored["top_labels"]] == [[label for label, _ in p.top] for p in expected]
    assert ScoreJob(str(tiny_onnx_int8)).predictor() is ScoreJob(str(tiny_onnx_int8)).predictor()  # loaded once


def test_inprocess_run_writes_a_whole_folder_once(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{n}", "text": f"row {n}" if n % 10 else ""}
                                                  for n in range(100)])
    out = tmp_path / "out"
    summary = run(UpperJob(), source, out, Columns("text", "id"), master="inprocess", progress=False)
    assert summary["rows_in"] == 100 and summary["rows_out"] == 90 and summary["rows_rejected"] == 10
    assert json.loads((out / SUMMARY_FILE).read_text()) == summary
    result = pd.read_parquet(out)  # the reader skips _rejected and _SUMMARY.json
    assert sorted(result["id"]) == sorted(f"r{n}" for n in range(100) if n % 10)
    rejected = pd.read_parquet(out / REJECTED_DIR)
    assert sorted(rejected["_row"]) == [1, 11, 21, 31, 41, 51, 61, 71, 81, 91]
    with pytest.raises(OutputExistsError):
        run(UpperJob(), source, out, Columns("text", "id"), master="inprocess", progress=False)
    assert not list(tmp_path.glob("out.tmp-*"))


def test_a_failed_run_leaves_no_output(tmp_path):
    class Broken(UpperJob):
        def __call__(self, texts):
            raise RuntimeError("model crashed")

    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    with pytest.raises(RuntimeError, match="model crashed"):
        run(Broken(), source, tmp_path / "out", Columns("text"), master="inprocess", progress=False)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("out.tmp-*"))
