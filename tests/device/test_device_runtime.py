"""The device runtime (shared.device) on a bundle of the tiny model: the same answers as the
suite's Predictor, learning a new label and rolling it back, refusing altered bundles and bad
teaching files, surviving a kill at every step of a learn, and its HTTP endpoint."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import httpx
import numpy as np
import pytest
from core_testlib import LABELS, REPO

from shared.device import BundleError, DeviceClassifier, DeviceError

GREETINGS = ["hello there", "hi hello", "hello hi there", "hi there hello", "hello hello", "hi hi there",
             "hello there hi", "there hello", "hi there", "hello hi", "hi hello there hi", "there hi hello"]


def test_pack_writes_every_file_with_its_checksum(packed):
    manifest = json.loads((packed / "manifest.json").read_text())
    assert manifest["weights"] == "u8"  # the default: alike on every processor
    assert {"encoder_int8.onnx", "tokenizer.json", "memory.npz"} <= set(manifest["files"])
    assert manifest["labels"] == LABELS and manifest["format_version"] == 1
    assert {"onnxruntime", "tokenizers", "numpy"} <= set(manifest["packer"])
    assert manifest["metrics"]["accuracy"] > 0.5 and manifest["size_mb"] > 0
    assert (packed / "heads" / "current.json").is_file()


def test_device_answers_like_the_suite_predictor(tmp_path, tiny_model, tiny_onnx_int8, tiny_data):
    """Packed with the servers' signed weights, the bundle computes what the suite's int8 graph
    does, text by text (each alone: a dynamically quantized graph's answer depends on its batch)."""
    from shared.data import load_labelled
    from shared.export.device import pack_bundle
    from shared.inference import Predictor

    texts = load_labelled(tiny_data.test).texts
    bundle = pack_bundle(tiny_model, tmp_path / "s8.bundle", weights="s8")
    device = DeviceClassifier(bundle).predict(texts)
    suite = Predictor(tiny_onnx_int8, "onnx", threads=1, batch_size=1).predict(texts)
    assert [d.label for d in device] == [s.label for s in suite]
    assert max(abs(d.confidence - s.confidence) for d, s in zip(device, suite)) < 1e-3
    assert all(d.top[0] == (d.label, d.confidence) for d in device)
    threshold = json.loads((tiny_onnx_int8 / "nlpsuite.json").read_text())["confidence_threshold"]
    assert all(d.abstain == (d.confidence < threshold) for d in device)


def test_learn_a_new_label_then_roll_back(bundle, tiny_data):
    from shared.data import load_labelled

    classifier = DeviceClassifier(bundle)
    packed_version = classifier.version
    test = load_labelled(tiny_data.test)
    before = np.mean([p.label == y for p, y in zip(classifier.predict(test.texts), test.labels)])
    report = classifier.learn(GREETINGS[:8], ["greeting"] * 8)
    assert report.new_labels == ["greeting"] and classifier.version == report.version != packed_version
    assert [p.label for p in classifier.predict(GREETINGS[8:])].count("greeting") >= 3
    after = np.mean([p.label == y for p, y in zip(classifier.predict(test.texts), test.labels)])
    assert after >= before - 0.05  # the memory keeps the old labels
    reloaded = DeviceClassifier(bundle)  # the new version is what the bundle serves from now on
    assert reloaded.version == report.version and "greeting" in reloaded.labels
    assert reloaded.rollback() == packed_version and "greeting" not in reloaded.labels
    assert DeviceClassifier(bundle).version == packed_version


def test_a_taught_correction_holds_for_that_text_and_moves_nothing_else(bundle, tiny_data):
    from shared.data import load_labelled

    classifier = DeviceClassifier(bundle)
    test = load_labelled(tiny_data.test)
    before = [p.label for p in classifier.predict(test.texts)]
    text, wrong = test.texts[0], before[0]
    right = next(label for label in classifier.labels if label != wrong)
    classifier.learn([text], [right])  # one correction: the head barely moves, the example holds
    after = [p.label for p in classifier.predict(test.texts)]
    assert after[0] == right and classifier.predict([text])[0].top[0][0] == right
    assert sum(a != b for a, b in zip(after[1:], before[1:])) <= max(1, len(before) // 10)


def test_only_the_last_three_learned_versions_and_the_packed_one_are_kept(bundle):
    classifier = DeviceClassifier(bundle)
    made = [classifier.learn(GREETINGS[:5], [f"greeting{i}"] * 5).version for i in range(5)]
    assert classifier.bundle.versions()[1:] == made[-3:]
    assert classifier.bundle.versions()[0] == "00000000T000000000000"


def test_new_labels_need_five_examples_and_nothing_changes_otherwise(bundle):
    classifier = DeviceClassifier(bundle)
    before = sorted(p.name for p in (bundle / "heads").iterdir())
    with pytest.raises(DeviceError, match=r"fewer than 5 examples: 'greeting' \(4\)"):
        classifier.learn(GREETINGS[:4], ["greeting"] * 4)
    with pytest.raises(DeviceError, match="example 2: empty text"):
        classifier.learn(["hello", " "], ["card", "card"])
    assert sorted(p.name for p in (bundle / "heads").iterdir()) == before
    classifier.learn(["hello there"], ["card"])  # more examples of a known label: any number


def test_an_altered_or_incomplete_bundle_is_refused_naming_the_file(bundle):
    encoder = bundle / "encoder_int8.onnx"
    original = encoder.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    encoder.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"encoder_int8.onnx: checksum mismatch"):
        DeviceClassifier(bundle)
    encoder.write_bytes(original)
    (bundle / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match=r"tokenizer.json: missing"):
        DeviceClassifier(bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps(manifest | {"format_version": 99}))
    with pytest.raises(BundleError, match="format_version 99"):
        DeviceClassifier(bundle)


def test_a_learned_head_that_was_altered_is_refused(bundle):
    classifier = DeviceClassifier(bundle)
    version = classifier.learn(GREETINGS[:5], ["greeting"] * 5).version
    head = bundle / "heads" / version / "head.npz"
    head.write_bytes(head.read_bytes()[:-10])
    with pytest.raises(BundleError, match=f"{version}/head.npz: checksum mismatch"):
        DeviceClassifier(bundle)


STEPS = ["head written", "examples written", "info written", "version renamed", "pointer switched"]


@pytest.mark.parametrize("step", STEPS)
def test_a_learn_killed_at_any_step_leaves_a_bundle_that_serves_one_of_its_versions(packed, tmp_path, step):
    import shutil

    bundle = shutil.copytree(packed, tmp_path / "bundle")
    data = tmp_path / "greetings.csv"
    data.write_text("text,label\n" + "".join(f"{t},greeting\n" for t in GREETINGS[:6]))
    old = DeviceClassifier(bundle).predict(["hello there"])[0].label
    run = subprocess.run([sys.executable, "-m", "shared.device.cli", "learn", str(bundle), "--data", str(data)],
                         env={**os.environ, "NLPSUITE_DEVICE_CRASH_AT": step}, cwd=REPO, capture_output=True)
    assert run.returncode == -9, run.stderr  # killed where the step was reached
    after = DeviceClassifier(bundle)
    answer = after.predict(["hello there"])[0].label
    if step == "pointer switched":
        assert "greeting" in after.labels
    else:
        assert after.version == "00000000T000000000000" and answer == old
    assert answer in after.labels


def test_cli_learn_reports_bad_files_with_file_and_line(bundle, tmp_path):
    def learn(path):
        return subprocess.run([sys.executable, "-m", "shared.device.cli", "learn", str(bundle), "--data", str(path)],
                              cwd=REPO, capture_output=True, text=True)

    cases = {"missing.csv": (None, "file not found"),
             "empty_text.csv": ("text,label\nhello,greeting\n ,greeting\n", "empty_text.csv:3: field 'text': empty"),
             "no_label.jsonl": ('{"text": "hi", "label": "x"}\n{"text": "hello"}\n', "no_label.jsonl:2: field 'label'"),
             "bad.jsonl": ('{"text": "hi", "label": "x"}\nnot json\n', "bad.jsonl:2: not a JSON object"),
             "latin1.csv": (b"text,label\ncaf\xe9,x\n", "latin1.csv:2: not UTF-8"),
             "header.csv": ("words,intent\nhi,x\n", "the header must name the columns text and label"),
             "few.csv": ("text,label\n" + "hi there,greeting\n" * 3, "fewer than 5 examples")}
    versions = sorted(p.name for p in (bundle / "heads").iterdir())
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        result = learn(path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert expected in result.stderr, (name, result.stderr)
    assert sorted(p.name for p in (bundle / "heads").iterdir()) == versions  # nothing learned


def test_cli_predict_info_and_rollback(bundle):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "shared.device.cli", *args], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout

    rows = [json.loads(line) for line in cli("predict", str(bundle), "my card pin expired", "send a wire").splitlines()]
    assert [r["label"] for r in rows] == ["card", "transfer"] and {"confidence", "top", "abstain"} <= set(rows[0])
    info = json.loads(cli("info", str(bundle)))
    assert info["labels"] == 3 and info["versions"] == ["00000000T000000000000"]
    result = subprocess.run([sys.executable, "-m", "shared.device.cli", "rollback", str(bundle)], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no earlier version" in result.stderr


def test_serve_predicts_for_anyone_and_learns_only_with_the_owner_s_token(bundle):
    from shared.device.server import serve

    token = "owner-token-" + "x" * 20
    server = serve(DeviceClassifier(bundle), "127.0.0.1", 0, token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
        answer = httpx.post(f"{base}/predict", json={"texts": ["my card pin expired"]}).json()
        assert answer["predictions"][0]["label"] == "card"
        teach = {"texts": GREETINGS[:5], "labels": ["greeting"] * 5}
        assert httpx.post(f"{base}/learn", json=teach).status_code == 401
        assert httpx.post(f"{base}/learn", json=teach, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.post(f"{base}/learn", content=b"{not json", headers={
            "Content-Type": "application/json"}).status_code == 401  # the token before the body
        weird = httpx.post(f"{base}/learn", json=teach, headers={"Authorization": "Bearer \u00e9t\u00e9".encode()})
        assert weird.status_code == 401
        learned = httpx.post(f"{base}/learn", json=teach, headers={"Authorization": f"Bearer {token}"})
        assert learned.status_code == 200 and learned.json()["new_labels"] == ["greeting"]
        assert httpx.post(f"{base}/predict", content="x", headers={"Content-Type": "text/plain"}).status_code == 415
        big = httpx.post(f"{base}/predict", content=b"{}" + b" " * (1 << 21), headers={"Content-Type": "application/json"})
        assert big.status_code == 413
        assert httpx.post(f"{base}/predict", json={"texts": []}).status_code == 422
        assert httpx.post(f"{base}/predict", json={"texts": ["a"], "top_k": True}).status_code == 422
    finally:
        server.shutdown()
        server.server_close()
    off = serve(DeviceClassifier(bundle), "127.0.0.1", 0, None)
    threading.Thread(target=off.serve_forever, daemon=True).start()
    try:
        response = httpx.post(f"http://127.0.0.1:{off.server_address[1]}/learn", json={"texts": ["a"], "labels": ["b"]},
                              headers={"Authorization": "Bearer anything-at-all-long"})
        assert response.status_code == 403
    finally:
        off.shutdown()
        off.server_close()


def test_the_device_runtime_imports_only_numpy_onnxruntime_tokenizers_and_the_standard_library():
    import ast

    allowed = set(sys.stdlib_module_names) | {"numpy", "onnxruntime", "tokenizers"}
    for path in (REPO / "shared" / "device").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"



def test_the_device_wheel_pins_the_onnxruntime_the_suite_serves_with():
    """Different onnxruntime releases compute int8 graphs a little differently (answers flip on
    near-ties), so the device gets the release the suite measured its models with."""
    import tomllib

    lock = (REPO / "requirements" / "lock.txt").read_text()
    served = next(line.split("==")[1] for line in lock.splitlines() if line.startswith("onnxruntime=="))
    wheel = tomllib.loads((REPO / "shared" / "device" / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(wheel) == ["numpy", f"onnxruntime=={served}", "tokenizers"]
