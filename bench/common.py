"""Helpers shared by the benchmarks: result files, latency percentiles, machine facts."""
from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "work"


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def update_results(name: str, section: dict) -> Path:
    """Merge ``section`` into bench/results/<name>.json, so partial runs keep the other parts."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update(section)
    data["machine"] = machine()
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def latency_ms(call, *, warmup: int = 20, runs: int = 300) -> dict:
    """p50/p95/mean of ``call()`` wall time in milliseconds after a warm-up."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    arr = np.asarray(times)
    return {
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "mean": round(float(arr.mean()), 3),
        "runs": runs,
    }
