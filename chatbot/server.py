"""Start and stop the chatbot's processes: Rasa (REST channel + HTTP API), the rasa-sdk action
server and the suite web app with the chat page, all bound to loopback by default.

Used by `nlpsuite chatbot serve`, the tests and the benchmark, so each of them starts the
real servers the same way.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import httpx

logger = logging.getLogger(__name__)
BIN = Path(sys.executable).parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def rasa_env(extra: Optional[dict] = None, cache_dir: Optional[str | Path] = None) -> dict:
    """Environment for Rasa child processes: offline, quiet, no telemetry, no shared cache."""
    env = dict(os.environ)
    env.update({"RASA_TELEMETRY_ENABLED": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "TF_CPP_MIN_LOG_LEVEL": "2", "TOKENIZERS_PARALLELISM": "false", "USE_TF": "0",
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PYTHONWARNINGS": "ignore"})
    env.setdefault("OMP_NUM_THREADS", "1")
    if cache_dir:
        env["RASA_CACHE_DIRECTORY"] = str(cache_dir)
    env.update(extra or {})
    return env


def rasa_command(*args: str) -> list[str]:
    return [str(BIN / "rasa"), *args]


def train(project_dir: str | Path, out_dir: str | Path, *, name: Optional[str] = None, env: Optional[dict] = None,
          log: Optional[Path] = None) -> Path:
    """`rasa train` in the project folder; returns the model archive."""
    project_dir, out_dir = Path(project_dir).resolve(), Path(out_dir).resolve()
    args = ["train", "--domain", "domain", "--data", "data", "--config", "config.yml", "--out", str(out_dir)]
    if name:
        args += ["--fixed-model-name", name]
    output = open(log, "w") if log else None
    try:
        result = subprocess.run(rasa_command(*args), cwd=project_dir, env=env or rasa_env(),
                                stdout=output, stderr=subprocess.STDOUT if output else None)
    finally:
        if output:
            output.close()
    if result.returncode != 0:
        raise RuntimeError(f"rasa train failed (exit {result.returncode})" + (f"; see {log}" if log else ""))
    models = sorted(out_dir.glob(f"{name or '*'}.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    url: str
    log: Optional[Path] = None

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def tail(self, n: int = 40) -> str:
        if self.log and self.log.is_file():
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""


def _spawn(name: str, command: list[str], cwd, env, log: Optional[Path], url: str) -> Process:
    output = open(log, "w") if log else subprocess.DEVNULL
    popen = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
    logger.info("started %s (pid %d): %s", name, popen.pid, " ".join(command))
    return Process(name, popen, url, log)


def _guarded(launcher: str, token_env: Optional[str], args: list[str]) -> list[str]:
    """Rasa's command line, or with ``token_env`` the launcher that adds the token from the
    environment (never on the command line, where ``ps`` shows it)."""
    if token_env is None:
        return rasa_command(*args)
    return [sys.executable, "-P", "-m", launcher, token_env, *args]


def start_rasa(project_dir, model: str | Path, *, host: str = "127.0.0.1", port: int, env: dict,
               log: Optional[Path] = None, cors: Optional[str] = None, token_env: Optional[str] = None) -> Process:
    """`rasa run`; with ``token_env`` its HTTP API requires the token in that variable of ``env``."""
    args = ["run", "--enable-api", "-i", host, "-p", str(port), "-m", str(model),
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"]
    if cors:
        args += ["--cors", cors]
    return _spawn("rasa", _guarded("chatbot.rasa_launcher", token_env, args), project_dir, env, log,
                  f"http://{host}:{port}")


def start_actions(*, host: str = "127.0.0.1", port: int, env: dict, cwd=None, log: Optional[Path] = None,
                  token_env: Optional[str] = None) -> Process:
    """The action server; with ``token_env`` it answers only callers sending that token."""
    env = dict(env, SANIC_HOST=host,  # rasa-sdk reads its bind address from SANIC_HOST
               NLPSUITE_ACTIONS_PRELOAD="1")  # FAQ index loaded before /health answers
    args = ["--actions", "chatbot.actions", "-p", str(port)]
    command = (rasa_command("run", "actions", *args) if token_env is None
               else _guarded("chatbot.actions_launcher", token_env, args))
    return _spawn("actions", command, cwd, env, log, f"http://{host}:{port}")


def start_web(*, host: str = "127.0.0.1", port: int, env: dict, cwd=None, log: Optional[Path] = None) -> Process:
    command = [sys.executable, "-P", "-m", "uvicorn", "--factory", "shared.web:create_app", "--host", host,
               "--app-dir", str(Path(__file__).resolve().parents[1]),  # not the working directory
               "--port", str(port), "--log-level", "warning",
               "--ws", "none"]  # rasa pins websockets 10, too old for uvicorn's websocket support
    return _spawn("web", command, cwd, env, log, f"http://{host}:{port}")


def wait_until(process: Process, path: str, ready=lambda r: r.status_code == 200, timeout: float = 180,
               params: Optional[dict] = None) -> None:
    """Poll ``process.url + path`` until ``ready(response)``; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}")
        try:
            if ready(httpx.get(process.url + path, params=params, timeout=5)):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{process.name} not ready at {process.url}{path} after {timeout:.0f} s:\n{process.tail()}")


def rasa_ready(process: Process, timeout: float = 180, token: Optional[str] = None) -> None:
    """Rasa answers `/` before the model is loaded: wait until /status names a model file."""
    wait_until(process, "/status", lambda r: r.status_code == 200 and bool(r.json().get("model_file")), timeout,
               params={"token": token} if token else None)


def actions_ready(process: Process, timeout: float = 120) -> None:
    wait_until(process, "/health", timeout=timeout)


@dataclass
class Stack:
    processes: list[Process] = field(default_factory=list)

    def stop(self, timeout: float = 20) -> None:
        """SIGINT to every process at once, then one shared deadline: stopping takes as long as
        the slowest process, not the sum of them (a loaded machine stops in time too)."""
        running = [p for p in reversed(self.processes) if p.popen.poll() is None]
        for process in running:
            process.popen.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(5)
