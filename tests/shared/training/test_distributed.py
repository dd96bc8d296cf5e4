"""`nlpsuite finetune --nproc 2`: two processes under torchrun (gloo on CPU) train one model; the
replicas' weights agree after every epoch, only rank 0 writes the folder, and the folder
loads and scores like a single-process one. TensorBoard events are written by default."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from shared.training.distributed import without_option

pytestmark = pytest.mark.timeout(420)


def test_without_option_drops_the_flag_and_its_value():
    assert without_option(["finetune", "--nproc", "2", "--out", "x"], "--nproc") == ["finetune", "--out", "x"]
    assert without_option(["finetune", "--nproc=2", "--out", "x"], "--nproc") == ["finetune", "--out", "x"]


def _finetune(tiny_base, tiny_data, out, *extra):
    command = [sys.executable, "-m", "shared.app.cli", "finetune", "--data", str(tiny_data.train),
               "--test", str(tiny_data.test), "--out", str(out), "--base", str(tiny_base), "--epochs", "15",
               "--learning-rate", "3e-3", "--batch-size", "16", "--threads", "1", "--logging-steps", "5",
               "--early-stopping-patience", "4", "--no-progress", *extra]  # core_testlib.tiny_args
    return subprocess.run(command, capture_output=True, text=True, timeout=400)


def test_two_processes_train_one_model(tmp_path, tiny_base, tiny_data):
    from shared.inference import Predictor
    from shared.model_dir import TENSORBOARD_DIR
    from shared.training.tensorboard import read_scalars

    done = _finetune(tiny_base, tiny_data, tmp_path / "ddp", "--nproc", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1 and summaries[0]["processes"] == 2  # rank 0 reports, once
    digests: dict[str, dict[int, str]] = {}
    for rank, epoch, digest in re.findall(r"rank (\d) of 2: epoch ([\d.]+) weights sha256 (\w+)", done.stderr):
        digests.setdefault(epoch, {})[int(rank)] = digest
    assert digests and all(set(d) == {0, 1} and d[0] == d[1] for d in digests.values()), digests
    folder = tmp_path / "ddp"
    assert (folder / "nlpsuite.json").is_file() and not (folder / "checkpoints").exists()
    events = read_scalars(folder / TENSORBOARD_DIR)
    assert "train/loss" in events and "eval/macro_f1" in events
    assert len(list((folder / TENSORBOARD_DIR).rglob("events.out.tfevents.*"))) == 1  # rank 0 alone

    texts = [text for text, _ in tiny_data.test_rows]
    gold = [label for _, label in tiny_data.test_rows]
    predicted = [p.label for p in Predictor(folder, threads=1).predict(texts)]
    accuracy = sum(p == g for p, g in zip(predicted, gold)) / len(gold)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert accuracy == pytest.approx(metrics["accuracy"], abs=1e-9)  # the folder scores as it reported
    assert accuracy >= 0.9


def test_each_process_takes_its_share_of_the_batch():
    from shared.training.pipeline import per_process_batch

    assert per_process_batch(16, 1) == 16
    assert per_process_batch(16, 2) == 8  # the global batch, hence the steps and schedule, stay put
    assert per_process_batch(15, 2) == 8 and per_process_batch(1, 4) == 1
