"""The parts of bench.device (see its docstring): each returns its section of device.json."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from bench.common import ROOT
from bench.device import DEVICE, SHORT, SHOTS, on_device, seeded_held_out, train_banking77

ARM64 = ROOT / "build" / "arm64"
EXAMPLE_SEED = 11
"""Which 10 training examples of each held-out intent the device is taught."""


def _texts_file(name: str, texts: list[str]) -> Path:
    path = DEVICE / f"{name}.json"
    path.write_text(json.dumps(list(texts)))
    return path


def _accuracy(python, as_mb, bundle: Path, data) -> float:
    result = on_device(python, as_mb, "predict", bundle=str(bundle), texts=str(_texts_file("eval", data.texts)))
    return round(float(np.mean([p == y for p, y in zip(result["labels"], data.labels)])), 4)


def _measure_bundle(python, as_mb, bundle: Path, data) -> dict:
    started = time.perf_counter()
    on_device(python, as_mb, "first_answer", bundle=str(bundle), text=SHORT)
    cold = time.perf_counter() - started
    timing = on_device(python, as_mb, "latency", bundle=str(bundle), text=SHORT)
    manifest = json.loads((bundle / "manifest.json").read_text())
    return {"size_mb": manifest["size_mb"], "cold_start_s": round(cold, 2), **timing,
            "accuracy": _accuracy(python, as_mb, bundle, data), "layers": manifest["layers"],
            "vocabulary": manifest["vocabulary"], "cores": 1, "threads": 1}


def bundles(python, as_mb) -> dict:
    """The intent model `make run` serves (6 layers and a smaller student) and the sentiment model."""
    from chatbot.banking77 import BANKING77, load_banking77
    from finsentiment.phrasebank import load_phrasebank
    from shared.data import load_labelled
    from shared.export.device import pack_bundle

    intents, sentiment = ROOT / "var" / "models" / "intents", ROOT / "var" / "models" / "phrasebank"
    if not (intents / "current.json").is_file():
        raise SystemExit("no intent model in var/models: run `make run` first (the bundles are of its models)")
    b77 = load_banking77()
    train = load_labelled(BANKING77 / "train.csv", "text", "category")

    def pack(folder, out, **options):  # a bundle packed by an earlier run of the same models is reused
        done = out / "manifest.json"
        version = _version(folder)
        if version and done.is_file() and str(json.loads(done.read_text()).get("source", "")).endswith(version):
            return out
        return pack_bundle(folder, out, **options)

    made = {"intents": pack(intents, DEVICE / "intents.bundle", data=train),
            "intents_small": pack(intents, DEVICE / "intents-small.bundle", data=train, layers=3,
                                  vocabulary_texts=list(train.texts)),
            "sentiment": pack(sentiment, DEVICE / "sentiment.bundle", data=load_phrasebank()["train"])}
    out = {name: _measure_bundle(python, as_mb, bundle, b77["test"] if name != "sentiment" else load_phrasebank()["test"])
           for name, bundle in made.items()}
    for name in ("intents", "intents_small"):
        out[name]["banking77_accuracy"] = out[name].pop("accuracy")
    out["sentiment"]["phrasebank_accuracy"] = out["sentiment"].pop("accuracy")
    small, six = out["intents_small"], out["intents"]
    out["targets"] = {"small_size_mb_max": 20, "small_p50_ms_max": 0.8, "small_accuracy_within_points": 1.5,
                      "met": small["size_mb"] <= 20 and small["p50_ms"] <= 0.8
                      and six["banking77_accuracy"] - small["banking77_accuracy"] <= 0.015}
    return out


def _version(folder: Path) -> str | None:
    """The served version of a versions folder (None for a plain model folder)."""
    pointer = folder / "current.json"
    return json.loads(pointer.read_text()).get("version") if pointer.is_file() else None


def _teach_file(groups: list[dict]) -> Path:
    path = DEVICE / "teach.json"
    path.write_text(json.dumps(groups))
    return path


def _split_scores(python, as_mb, bundle, test, new: list[str]) -> dict:
    result = on_device(python, as_mb, "predict", bundle=str(bundle), texts=str(_texts_file("test", test.texts)))
    pairs = list(zip(result["labels"], test.labels))
    new_pairs, old_pairs = [p for p in pairs if p[1] in new], [p for p in pairs if p[1] not in new]
    return {"new_intent_recall": round(float(np.mean([p == y for p, y in new_pairs])), 4) if new_pairs else None,
            "old_accuracy": round(float(np.mean([p == y for p, y in old_pairs])), 4)}


def learning(python, as_mb) -> dict:
    """70 intents packed, 7 learned on the device from 10 examples each; the two comparisons."""
    from chatbot.banking77 import load_banking77
    from shared.data import LabelledTexts
    from shared.export.device import pack_bundle

    labels = sorted(set(load_banking77()["train"].labels))
    new = seeded_held_out(labels)
    base, data = train_banking77("b77-70", set(labels) - set(new))
    full, _ = train_banking77("b77-77", None)
    old_train = LabelledTexts([t for t, y in zip(data["train"].texts, data["train"].labels) if y not in new],
                              [y for y in data["train"].labels if y not in new], "train")
    packed = pack_bundle(base, DEVICE / "b77-70.bundle", data=old_train)
    rng = random.Random(EXAMPLE_SEED)
    groups = []
    for label in new:
        texts = rng.sample([t for t, y in zip(data["train"].texts, data["train"].labels) if y == label], SHOTS)
        groups.append({"texts": texts, "labels": [label] * SHOTS})
    before = _split_scores(python, as_mb, packed, data["test"], new)
    runs = {}
    for name, bundle in (("with_memory", packed), ("without_memory", _without_memory(packed))):
        taught = _fresh_copy(bundle, name)
        report = on_device(python, as_mb, "learn", bundle=str(taught), examples=str(_teach_file(groups)))
        after = _split_scores(python, as_mb, taught, data["test"], new)
        runs[name] = {"learn_seconds": max(r["seconds"] for r in report["learns"]),
                      "learn_seconds_each": [r["seconds"] for r in report["learns"]],
                      "new_intent_recall": after["new_intent_recall"],
                      "old_accuracy_before": before["old_accuracy"], "old_accuracy_after": after["old_accuracy"],
                      "old_accuracy_drop": round(before["old_accuracy"] - after["old_accuracy"], 4),
                      "peak_rss_mb": report["peak_rss_mb"]}
    upper = _split_scores(python, as_mb, pack_bundle(full, DEVICE / "b77-77.bundle", data=data["train"]),
                          data["test"], new)
    result = {**runs["with_memory"], "new_intents": new, "shots": SHOTS, "example_seed": EXAMPLE_SEED,
              "held_out_seed": 7, "memory_per_class": 64,
              "without_memory": runs["without_memory"],
              "workstation_all_77": {"new_intent_recall": upper["new_intent_recall"],
                                     "old_accuracy": upper["old_accuracy"]}}
    result["targets"] = {"learn_seconds_max": 10, "new_intent_recall_min": 0.85, "old_accuracy_drop_max": 0.005,
                         "met": result["learn_seconds"] <= 10 and result["new_intent_recall"] >= 0.85
                         and result["old_accuracy_drop"] <= 0.005}
    return result


def _fresh_copy(bundle: Path, name: str) -> Path:
    target = DEVICE / f"taught-{name}"
    shutil.rmtree(target, ignore_errors=True)
    return shutil.copytree(bundle, target)


def _without_memory(bundle: Path) -> Path:
    """The same bundle with an empty memory (its checksum recorded anew): the forgetting baseline."""
    from shared.device.bundle import MEMORY, Examples, file_entry

    target = _fresh_copy(bundle, "no-memory-source")
    manifest = json.loads((target / "manifest.json").read_text())
    Examples.empty(manifest["dimension"]).save(target / MEMORY)
    manifest["files"][MEMORY] = file_entry(target / MEMORY)
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return target


def corrections(python, as_mb) -> dict:
    """50 validation utterances the 77-intent bundle gets wrong, taught with their right labels."""
    full, data = train_banking77("b77-77", None)
    bundle = DEVICE / "b77-77.bundle"
    if not (bundle / "manifest.json").is_file():
        from shared.export.device import pack_bundle

        pack_bundle(full, bundle, data=data["train"])
    validation = data["validation"]
    result = on_device(python, as_mb, "predict", bundle=str(bundle), texts=str(_texts_file("val", validation.texts)))
    wrong = [(t, y) for t, y, p in zip(validation.texts, validation.labels, result["labels"]) if p != y][:50]
    taught = _fresh_copy(bundle, "corrections")
    before = _split_scores(python, as_mb, taught, data["test"], [])["old_accuracy"]
    report = on_device(python, as_mb, "learn", bundle=str(taught), examples=str(_teach_file(
        [{"texts": [t for t, _ in wrong], "labels": [y for _, y in wrong]}])))
    again = on_device(python, as_mb, "predict", bundle=str(taught), texts=str(_texts_file("wrong", [t for t, _ in wrong])))
    after = _split_scores(python, as_mb, taught, data["test"], [])["old_accuracy"]
    fixed = float(np.mean([p == y for p, (_, y) in zip(again["labels"], wrong)]))
    return {"taught": len(wrong), "correct_after": round(fixed, 4), "test_accuracy_before": before,
            "test_accuracy_after": after, "test_accuracy_change": round(after - before, 4),
            "learn_seconds": report["learns"][0]["seconds"],
            "targets": {"correct_after_min": 0.8, "test_within": 0.005,
                        "met": fixed >= 0.8 and abs(after - before) <= 0.005}}


def arm64(python, as_mb) -> dict:
    """The 200-utterance sample on arm64 under qemu against the same bundle on x86."""
    from chatbot.banking77 import load_banking77

    bundle = DEVICE / "intents.bundle"
    if not (ARM64 / ".complete").is_file() or not (bundle / "manifest.json").is_file():
        return {"skipped": "needs `make arm64` and the bundles part first"}
    sample = random.Random(24).sample(load_banking77()["test"].texts, 200)
    texts = _texts_file("arm64", sample)
    x86 = on_device(python, as_mb, "predict", bundle=str(bundle), texts=str(texts))
    site = DEVICE / "wheel-site"
    shutil.rmtree(site, ignore_errors=True)
    subprocess.run(["python3", "-m", "zipfile", "-e", str(next((ROOT / "dist").glob("nlpsuite_device-*.whl"))),
                    str(site)], check=True)
    started = time.perf_counter()
    run = subprocess.run(["qemu-aarch64-static", "-cpu", "cortex-a72", "-L", str(ARM64 / "sysroot"),
                          str(ARM64 / "sysroot" / "usr" / "bin" / "python3.11"),
                          str(Path(__file__).with_name("device_probe.py")), "predict",
                          json.dumps({"bundle": str(bundle), "texts": str(texts)})],
                         capture_output=True, text=True, env={"PYTHONPATH": f"{ARM64 / 'site'}:{site}"})
    if run.returncode != 0:
        raise SystemExit(f"arm64 run failed:\n{run.stderr[-2000:]}")
    arm = json.loads(run.stdout.strip().splitlines()[-1])
    return {"n": len(sample), "agree": arm["labels"] == x86["labels"],
            "labels_equal": sum(a == b for a, b in zip(arm["labels"], x86["labels"])),
            "max_confidence_diff": float(max(abs(a - b) for a, b in zip(arm["confidences"], x86["confidences"]))),
            "emulated_seconds": round(time.perf_counter() - started, 1), "emulator": "qemu-aarch64-static cortex-a72"}
