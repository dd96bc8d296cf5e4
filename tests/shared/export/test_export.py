"""ONNX export: fp32 matches torch, int8 agrees with it, and the export serves without torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from shared.export.onnx import FP32_FILE, INT8_FILE
from shared.inference import Predictor
from shared.model_dir import MANIFEST, ModelInfo

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def test_texts(tiny_data):
    return [t for t, _ in tiny_data.test_rows]


@pytest.fixture(scope="module")
def torch_predictor(tiny_model):
    return Predictor(tiny_model, "torch", threads=1)


def test_int8_export_writes_both_graphs_and_serves_int8(tiny_onnx_int8, tiny_model):
    assert (tiny_onnx_int8 / FP32_FILE).is_file() and (tiny_onnx_int8 / INT8_FILE).is_file()
    assert (tiny_onnx_int8 / INT8_FILE).stat().st_size < (tiny_onnx_int8 / FP32_FILE).stat().st_size
    info = ModelInfo.load(tiny_onnx_int8)
    assert info.onnx_file == INT8_FILE
    source = ModelInfo.load(tiny_model)
    assert info.labels == source.labels and info.temperature == source.temperature
    assert info.max_length == source.max_length and info.data_sha256 == source.data_sha256
    for name in ("tokenizer.json", "metrics.json", "README.md", "plots/training_curves.png"):
        assert (tiny_onnx_int8 / name).is_file(), name
    assert not (tiny_onnx_int8 / "model.safetensors").exists()  # onnxruntime needs no torch weights
    assert Predictor(tiny_onnx_int8).backend_name == "onnx"  # auto picks the export


def test_fp32_export_serves_fp32(tiny_onnx_fp32):
    assert ModelInfo.load(tiny_onnx_fp32).onnx_file == FP32_FILE
    assert not (tiny_onnx_fp32 / INT8_FILE).exists()


def test_fp32_onnx_logits_match_torch(tiny_onnx_fp32, torch_predictor, test_texts):
    onnx = Predictor(tiny_onnx_fp32, "onnx", threads=1)
    expected = torch_predictor.logits(test_texts)
    got = onnx.logits(test_texts)
    assert got.shape == expected.shape == (len(test_texts), len(torch_predictor.labels))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(onnx.predict_proba(test_texts), torch_predictor.predict_proba(test_texts),
                               atol=1e-4)


def test_int8_predictions_agree_with_torch(tiny_onnx_int8, torch_predictor, test_texts):
    int8 = Predictor(tiny_onnx_int8, "onnx", threads=1)
    torch_labels = [p.label for p in torch_predictor.predict(test_texts)]
    int8_labels = [p.label for p in int8.predict(test_texts)]
    agreement = np.mean([a == b for a, b in zip(torch_labels, int8_labels)])
    assert agreement >= 0.9, agreement
    probs = int8.predict_proba(test_texts)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_export_into_the_model_folder_is_refused(tiny_model):
    from shared.export import export_onnx

    before = sorted(p.name for p in tiny_model.iterdir())
    with pytest.raises(ValueError, match="new folder"):
        export_onnx(tiny_model, tiny_model)
    with pytest.raises(ValueError, match="new folder"):
        export_onnx(tiny_model, tiny_model / "sub" / "..", int8=True)
    assert sorted(p.name for p in tiny_model.iterdir()) == before


def test_export_of_a_non_model_folder(tmp_path, tiny_base):
    from shared.export import export_onnx
    from shared.model_dir import ModelFolderError

    with pytest.raises(ModelFolderError, match=MANIFEST):
        export_onnx(tiny_base, tmp_path / "out")
    assert not (tmp_path / "out").exists()


_NO_TORCH = textwrap.dedent(
    """
    import importlib.abc, json, sys

    BLOCKED = ("torch", "transformers")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the import block does not work")

    from shared.inference import Predictor

    predictor = Predictor(sys.argv[1], "onnx", threads=1)
    texts = json.loads(sys.argv[2])
    out = [p.to_dict() for p in predictor.predict(texts)]
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print(json.dumps({"predictions": out, "leaked": leaked}))
    """
)


def test_onnx_backend_works_without_torch(tmp_path, tiny_onnx_int8, tiny_data):
    script = tmp_path / "no_torch.py"
    script.write_text(_NO_TORCH, encoding="utf-8")
    texts = [t for t, _ in tiny_data.test_rows[:6]]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, str(script), str(tiny_onnx_int8), json.dumps(texts)],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["leaked"] == []
    expected = [p.to_dict() for p in Predictor(tiny_onnx_int8, "onnx", threads=1).predict(texts)]
    assert [p["label"] for p in report["predictions"]] == [p["label"] for p in expected]
    for got, want in zip(report["predictions"], expected):
        assert got["confidence"] == pytest.approx(want["confidence"], abs=1e-5)
