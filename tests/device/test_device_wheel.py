"""The device wheel as a device maker gets it: `make device-wheel`, installed alone in a fresh
virtual environment (numpy, onnxruntime and tokenizers from the registry, no torch), answering
exactly as the suite's Predictor on the intent model `make run` serves; and the same wheel and
bundle on an arm64 CPython under qemu (build/arm64, `make arm64`): the same labels, and the same
confidences but for a few texts where a dynamically quantized activation rounds the other way."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from core_testlib import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
ARM64 = REPO / "build" / "arm64"
PROBE = """
import json, sys
from nlpsuite_device import DeviceClassifier
texts = json.load(open(sys.argv[2]))
predictions = DeviceClassifier(sys.argv[1]).predict(texts)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "sklearn", "scipy", "shared"))
print(json.dumps({"labels": [p.label for p in predictions], "confidences": [p.confidence for p in predictions],
                  "runner_up": [p.top[1][1] if len(p.top) > 1 else 0.0 for p in predictions],
                  "heavy_modules": heavy}))
"""


@pytest.fixture(scope="session")
def device_wheel() -> Path:
    subprocess.run(["make", "-s", "device-wheel"], cwd=REPO, check=True, capture_output=True)
    wheels = sorted((REPO / "dist").glob("nlpsuite_device-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="session")
def device_venv(tmp_path_factory, device_wheel) -> Path:
    venv = tmp_path_factory.mktemp("device") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(device_wheel)],
                   check=True, capture_output=True, timeout=1200)
    return venv


@pytest.fixture(scope="session")
def intents_bundle(tmp_path_factory, quick_intents) -> Path:
    """The intent model packed with the servers' signed int8 weights: it must answer as they do."""
    from shared.export.device import pack_bundle

    return pack_bundle(quick_intents, tmp_path_factory.mktemp("intents") / "intents.bundle", weights="s8")


@pytest.fixture(scope="session")
def portable_bundle(tmp_path_factory, quick_intents) -> Path:
    """The same model as a default bundle (unsigned weights): it must answer alike on x86 and ARM."""
    from shared.export.device import pack_bundle

    return pack_bundle(quick_intents, tmp_path_factory.mktemp("portable") / "intents.bundle")


@pytest.fixture(scope="session")
def banking77_test():
    from chatbot.banking77 import load_banking77

    return load_banking77()["test"].texts


def test_the_wheel_holds_the_runtime_alone_and_requires_exactly_three_packages(device_wheel):
    with zipfile.ZipFile(device_wheel) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    code = [n for n in names if ".dist-info/" not in n]
    assert code and all(n.startswith("nlpsuite_device/") and n.endswith(".py") for n in code), code
    requires = sorted(line.split(":", 1)[1].replace(" ", "") for line in metadata.splitlines()
                      if line.startswith("Requires-Dist:"))
    lock = (REPO / "requirements" / "lock.txt").read_text()
    served = next(line for line in lock.splitlines() if line.startswith("onnxruntime=="))
    assert requires == ["numpy", served, "tokenizers"]  # exactly these three; onnxruntime as the suite serves
    assert "nlpsuite-device = nlpsuite_device.cli:main" in entry_points


def test_in_a_fresh_venv_the_bundle_answers_like_the_suite_s_predictor(device_venv, intents_bundle, quick_intents,
                                                                        banking77_test, tmp_path):
    from shared.inference import Predictor

    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(banking77_test))
    run = subprocess.run([str(device_venv / "bin" / "python"), "-c", PROBE, str(intents_bundle), str(texts_file)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert run.returncode == 0, run.stderr
    device = json.loads(run.stdout)
    assert device["heavy_modules"] == []  # no torch, transformers, sklearn: not even installed
    suite = Predictor(quick_intents, "onnx", threads=2, batch_size=1).predict(banking77_test, top_k=1)
    disagree = [(t, d, s.label) for t, d, s in zip(banking77_test, device["labels"], suite) if d != s.label]
    assert not disagree, disagree[:5]
    assert max(abs(c - s.confidence) for c, s in zip(device["confidences"], suite)) < 1e-3
    cli = subprocess.run([str(device_venv / "bin" / "nlpsuite-device"), "predict", str(intents_bundle),
                          "I still have not received my new card"], capture_output=True, text=True, timeout=300)
    assert json.loads(cli.stdout)["label"] == "card_arrival", cli.stderr


def test_the_same_wheel_and_bundle_answer_alike_on_arm64(device_wheel, portable_bundle, banking77_test, tmp_path):
    import random

    if not (ARM64 / ".complete").is_file():
        pytest.skip(f"no arm64 tree in {ARM64}: `make arm64` (as root) builds it; `make test` does")
    site = tmp_path / "runtime"
    with zipfile.ZipFile(device_wheel) as wheel:
        wheel.extractall(site)
    sample = random.Random(24).sample(banking77_test, 200)
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(sample))
    command = ["qemu-aarch64-static", "-cpu", "cortex-a72", "-L", str(ARM64 / "sysroot"),
               str(ARM64 / "sysroot" / "usr" / "bin" / "python3.11"), "-c", PROBE, str(portable_bundle), str(texts_file)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=2000, cwd=tmp_path,
                         env={"PYTHONPATH": f"{ARM64 / 'site'}:{site}", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-3000:]
    arm = json.loads(run.stdout)
    x86 = json.loads(subprocess.run([sys.executable, "-c", PROBE, str(portable_bundle), str(texts_file)],
                                    capture_output=True, text=True, check=True, cwd=tmp_path,
                                    env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}).stdout)
    # Most confidences are equal to the last digit. The int8 graph quantizes its activations
    # dynamically: where x86's and ARM's exp and erf differ in their last bit, a value on a
    # rounding boundary can round the other way, and a few texts move by a few hundredths. So a
    # text whose two best labels are that close on x86 may swap them on ARM; no other may.
    flipped = [i for i, (a, b) in enumerate(zip(arm["labels"], x86["labels"])) if a != b]
    near_ties = [i for i in flipped if x86["confidences"][i] - x86["runner_up"][i] < 0.1]
    assert flipped == near_ties and len(flipped) <= len(sample) // 100, \
        [(sample[i], arm["labels"][i], x86["labels"][i], x86["confidences"][i], x86["runner_up"][i]) for i in flipped]
    diffs = sorted(abs(a - b) for a, b in zip(arm["confidences"], x86["confidences"]))
    assert diffs[len(diffs) // 2] < 1e-6 and sum(d <= 1e-3 for d in diffs) >= 0.9 * len(diffs), diffs[-10:]
    assert diffs[-1] < 0.1
