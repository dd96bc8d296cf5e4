"""What bench.device runs on the "device": in the venv that holds only the device wheel, on core 0,
under the address-space cap. One task per call; its result is the last line of stdout (JSON).

    python bench/device_probe.py TASK '{"bundle": ..., ...}'

Tasks: ``first_answer`` (load and answer once), ``latency`` (p50/p95 of one short utterance
and the peak resident memory), ``predict`` (labels and confidences of a JSON list of texts),
``learn`` (teach examples from a JSON file in order, one learn call per label, timed), ``rollback``.
Imports nothing of the suite: only the wheel's ``nlpsuite_device`` and the standard library.
"""
from __future__ import annotations

import json
import sys
import time


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark (VmHWM). Not ``getrusage``: its
    ``ru_maxrss`` keeps the parent's peak across fork and exec, so every probe would report the
    bench's own 1.6 GB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _classifier(args):
    from nlpsuite_device import DeviceClassifier

    return DeviceClassifier(args["bundle"], threads=1)


def first_answer(args) -> dict:
    label = _classifier(args).predict([args["text"]])[0].label
    return {"label": label}


def latency(args) -> dict:
    classifier = _classifier(args)
    for _ in range(20):
        classifier.predict([args["text"]])
    times = []
    for _ in range(args.get("runs", 300)):
        started = time.perf_counter()
        classifier.predict([args["text"]])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 3), "p95_ms": round(times[int(len(times) * 0.95)], 3),
            "peak_rss_mb": peak_rss_mb()}


def predict(args) -> dict:
    texts = json.load(open(args["texts"], encoding="utf-8"))
    predictions = _classifier(args).predict(texts)
    return {"labels": [p.label for p in predictions], "confidences": [p.confidence for p in predictions]}


def learn(args) -> dict:
    """Each group of examples (a label's, or one batch of corrections) is one learn call."""
    classifier = _classifier(args)
    groups = json.load(open(args["examples"], encoding="utf-8"))
    reports = []
    for group in groups:
        started = time.perf_counter()
        report = classifier.learn(group["texts"], group["labels"])
        reports.append({"seconds": round(time.perf_counter() - started, 3), "new_labels": report.new_labels,
                        "examples": report.examples})
    return {"learns": reports, "version": classifier.version,
            "peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    task, arguments = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps({"first_answer": first_answer, "latency": latency, "predict": predict, "learn": learn}[task](arguments)))
