"""The device benchmark: bundles timed under a 1-core budget, learning new intents and corrections
on the device, and agreement on arm64.

    python -m bench.device [--parts bundles,learning,corrections,arm64] [--as-mb 1024]

Every device figure runs in a fresh virtual environment where only the device wheel is installed
(bench/work/device/venv), pinned to core 0 (``taskset -c 0``), with one onnxruntime thread,
under an address-space cap (``prlimit --as``, ``--as-mb``). Workstation steps (training,
packing) run in the suite's environment at 2 threads. Writes bench/results/device.json:

- ``bundles``: intents (the intent model `make run` serves, 6 layers), intents smaller (a 3-layer
  student with the vocabulary BANKING77's texts use), sentiment (the PhraseBank model): size,
  cold start (process start to the first answer), p50/p95 for one utterance, peak RSS, accuracy.
- ``learning``: LP-FT on 70 of BANKING77's 77 intents (the other 7 drawn with seed 7), packed
  with its memory; each held-out intent learned on the device from 10 of its training examples;
  recall of the 7 on their test utterances, accuracy on the 70 before and after; beside it a
  workstation fine-tune on all 77 (the upper bound) and the same learning without the memory.
- ``corrections``: 50 validation utterances the 77-intent bundle gets wrong, taught with their
  right labels: how many are right afterwards, and the rest of the test set before and after.
- ``arm64``: the 200-utterance sample under qemu (``make arm64``): labels equal, largest
  confidence difference.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, WORK, update_results

logger = logging.getLogger("bench.device")
DEVICE = WORK / "device"
HELD_OUT_SEED, HELD_OUT = 7, 7
SHOTS = 10
SHORT = "I still have not received my new card"
MEASURE = Path(__file__).with_name("device_probe.py")


def device_python(wheel: Path) -> Path:
    """A fresh venv with only the device wheel (and what it requires) installed."""
    venv = DEVICE / "venv"
    if not (venv / "bin" / "nlpsuite-device").is_file():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True)
    else:
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--force-reinstall", "--no-deps", str(wheel)],
                       check=True)
    return venv / "bin" / "python"


def on_device(python: Path, as_mb: int, task: str, **arguments) -> dict:
    """Run ``bench/device_probe.py TASK`` in the device venv on core 0 under the memory cap."""
    command = ["taskset", "-c", "0", "prlimit", f"--as={as_mb * 2**20}", str(python), str(MEASURE), task,
               json.dumps(arguments)]
    run = subprocess.run(command, capture_output=True, text=True, cwd=DEVICE)
    if run.returncode != 0:
        raise SystemExit(f"device probe {task} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _intents_args():
    from chatbot.intents import PROFILES

    return dataclasses.replace(PROFILES["quick"], typo_augmentation=0.0, spelling_correction=False, threads=2,
                               tensorboard=False)


def train_banking77(name: str, keep_labels: set | None) -> tuple[Path, dict]:
    """The intent model's chosen recipe on BANKING77 (only ``keep_labels`` when given), reused when there."""
    from chatbot.banking77 import load_banking77
    from shared.data import LabelledTexts, stratified_split
    from shared.training import finetune

    data = load_banking77()
    train, validation = stratified_split(data["train"], 0.1, seed=42)
    keep = (lambda d: LabelledTexts([t for t, y in zip(d.texts, d.labels) if y in keep_labels],
                                    [y for y in d.labels if y in keep_labels], d.source)) if keep_labels else (lambda d: d)
    folder = DEVICE / name
    if not (folder / "model.safetensors").is_file():
        started = time.perf_counter()
        finetune(keep(train), _intents_args(), folder, validation=keep(validation), test=keep(data["test"]))
        logger.info("%s trained in %.0f s", name, time.perf_counter() - started)
    return folder, {"train": train, "validation": validation, "test": data["test"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="bundles,learning,corrections,arm64")
    parser.add_argument("--as-mb", type=int, default=1024, help="address-space cap of the device process (MB)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    DEVICE.mkdir(parents=True, exist_ok=True)
    subprocess.run(["make", "-s", "device-wheel"], cwd=ROOT, check=True)
    python = device_python(next((ROOT / "dist").glob("nlpsuite_device-*.whl")))
    budget = {"cores": 1, "taskset": "-c 0", "threads": 1, "address_space_mb": options.as_mb}
    from bench.device_parts import arm64, bundles, corrections, learning

    for part, run in (("bundles", bundles), ("learning", learning), ("corrections", corrections), ("arm64", arm64)):
        if part in options.parts.split(","):
            started = time.perf_counter()
            result = run(python, options.as_mb)
            update_results("device", {part: result, "budget": budget})
            logger.info("%s in %.0f s: %s", part, time.perf_counter() - started, json.dumps(result)[:600])
    return 0


def seeded_held_out(labels: list[str]) -> list[str]:
    """The 7 intents the device learns, drawn with a fixed seed."""
    return sorted(random.Random(HELD_OUT_SEED).sample(sorted(set(labels)), HELD_OUT))


if __name__ == "__main__":
    raise SystemExit(main())
