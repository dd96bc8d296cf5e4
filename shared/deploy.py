"""Fine-tune, calibrate, export: one function from labelled data to a folder ready to serve.

Every place that trains a model for serving goes through ``finetune_for_serving``: the
suite's classifiers (``shared.app.quickstart``), the Rasa intent component and the
recommender's relevance scorer. Training, calibration, evaluation and the model card happen in
``shared.training.finetune``; export (int8 ONNX by default) in ``shared.export``; this module
only composes them, so export stays apart from modelling.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from shared.atomic import replace_folder
from shared.data import LabelledTexts


def finetune_for_serving(train: LabelledTexts, args, out_dir: str | Path, *, validation: LabelledTexts | None = None,
                         test: LabelledTexts | None = None, trained_dir: str | Path | None = None,
                         onnx: bool = True, int8: bool = True, keep_fp32: bool = True, keep_torch: bool = False):
    """Fine-tune ``train`` with ``args`` (``FineTuneArgs``) and write the served folder ``out_dir``.

    Args:
        trained_dir: where to keep the fine-tuned torch folder; None: a temporary folder, removed.
        onnx: export to ONNX (int8 with ``int8``); False: ``out_dir`` is the torch folder itself.
        keep_fp32: with int8, also keep the fp32 graph (``model.onnx``) beside the int8 one.
        keep_torch: also keep the fine-tuned weights (``model.safetensors``) beside the graphs, so
            the folder can be fine-tuned further or packed for a device (``nlpsuite device pack``).

    Returns the ``FineTuneResult`` (metrics of the torch model, before export).
    ``out_dir`` is written beside itself and switched in whole (``replace_folder``): an existing
    folder keeps serving until the new one is complete, and a crash leaves one or the other.
    """
    from shared.export import export_onnx
    from shared.training import finetune

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nlpsuite-finetune-") as tmp, \
            tempfile.TemporaryDirectory(prefix=f".{out_dir.name}-", dir=out_dir.parent) as staging:
        trained = Path(trained_dir) if trained_dir else Path(tmp) / "trained"
        result = finetune(train, args, trained, validation=validation, test=test)
        new = Path(staging) / "new"
        if not onnx:
            shutil.copytree(trained, new)
        else:
            export_onnx(trained, new, int8=int8)
            if int8 and not keep_fp32:
                (new / "model.onnx").unlink(missing_ok=True)  # serving reads model_int8.onnx only
            if keep_torch:
                shutil.copy2(trained / "model.safetensors", new / "model.safetensors")
        replace_folder(new, out_dir)
    return result
