"""The web app's processes: one per core unless memory is short, and what the config says wins."""
from __future__ import annotations

import os

import pytest

from shared.app import web


def test_auto_workers_follows_cores_and_memory(tmp_path):
    cores = len(os.sched_getaffinity(0))
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 99999999 kB\nMemAvailable: 64000000 kB\n")  # about 61 GiB free
    assert web.auto_workers(per_worker_mb=600, meminfo=meminfo) == cores
    meminfo.write_text("MemAvailable: 1300000 kB\n")  # about 1.2 GiB: half of it holds one 600 MB worker
    assert web.auto_workers(per_worker_mb=600, meminfo=meminfo) == 1
    meminfo.write_text("MemAvailable: 100 kB\n")
    assert web.auto_workers(per_worker_mb=600, meminfo=meminfo) == 1  # never none


def test_web_service_runs_the_configured_workers():
    command = web.web_service("127.0.0.1", 8123, workers=3).command
    assert command[command.index("--workers") + 1] == "3"
    default = web.web_service("127.0.0.1", 8123).command
    assert int(default[default.index("--workers") + 1]) == web.auto_workers()


def test_suite_settings_take_web_workers(tmp_path):
    from shared.config import ConfigError
    from shared.product.settings import load_settings

    path = tmp_path / "nlpsuite.yml"
    path.write_text("suite:\n  web_workers: 2\n")
    assert load_settings(path).web_workers == 2
    path.write_text("suite:\n  web_workers: 0\n")
    with pytest.raises(ConfigError, match="web_workers"):
        load_settings(path)
