"""A suite of the benchmark's own: `nlpsuite run` in a folder under bench/work, on its own ports,
so it never touches a running `make run`.

The classifiers are the main job's (var/models, prepared here if missing) and, when `make run`
has fitted one, a copy of its recommender (else the suite fits its own, a few minutes more).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.common import ROOT


@dataclass(frozen=True)
class Ports:
    web: int
    outbox: int
    rasa: int
    actions: int

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self, service)}"


def prepared_models(profile: str) -> dict:
    """Every product's classifier as the main job serves it: its versions folder in var/models
    (a first version trained there unless one serves already; whatever version serves is used)."""
    from shared.app.discovery import classifier_specs, load_parts
    from shared.app.quickstart import ensure_serving, model_root

    specs = classifier_specs(load_parts())
    for spec in specs:
        ensure_serving(spec, profile, ROOT / "var", None)
    return {spec.name: str(model_root(spec.name, ROOT / "var")) for spec in specs}


@dataclass
class BenchSuite:
    root: Path
    ports: Ports
    proc: subprocess.Popen
    config: Path

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def logs(self) -> Path:
        return self.var / "logs"

    def api_token(self) -> str:
        """The token this suite made for itself (Rasa's tracker API and the writes need it)."""
        from shared.product.token import load_api_token

        return load_api_token(self.var, create=False)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(120)


def start_suite(root: Path, ports: Ports, profile: str = "quick", timeout_s: float = 1500,
                models: dict | None = None, env: dict | None = None, wait: bool = True,
                suite: dict | None = None, sections: dict | None = None) -> BenchSuite:
    """`nlpsuite run` in ``root``; returns once it prints "nlpsuite is running" (at once without
    ``wait``). ``models``: the ``suite.models`` to use (default: the main job's,
    ``prepared_models``); ``{}`` trains its own and fits its own recommender. ``suite``: more
    keys of the ``suite:`` section; ``sections``: more of the other sections (merged in)."""
    root.mkdir(parents=True, exist_ok=True)
    section = {}
    recommender, source = root / "recommender", ROOT / "var" / "recommender"
    if models != {} and (recommender.exists() or (source / "model.json").is_file()):
        if not recommender.exists():
            shutil.copytree(source, recommender)
        section = {"recommender": {"model_dir": str(recommender)}}
    from shared.config import merge_mappings

    config = root / "nlpsuite.yml"
    config.write_text(yaml.safe_dump(merge_mappings({
        "suite": {"var_dir": str(root / "var"), "web_port": ports.web, "outbox_port": ports.outbox,
                  "models": prepared_models(profile) if models is None else models, **(suite or {})},
        "chatbot": {"rasa_port": ports.rasa, "action_port": ports.actions},
        **section,
    }, sections or {})))
    log = root / "suite.log"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "nlpsuite"), "run", "--config", str(config)],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, **(env or {})})
    deadline = time.monotonic() + timeout_s
    while wait and "nlpsuite is running" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.send_signal(signal.SIGINT)
            raise SystemExit(f"the suite did not start; see {log}:\n{log.read_text()[-3000:]}")
        time.sleep(1)
    return BenchSuite(root, ports, proc, config)
