"""The chatbot's servers as the suite's supervisor runs them: the one place that builds the
command lines of `rasa run` and of the rasa-sdk action server, plus `rasa train`.

`nlpsuite run` (``chatbot.suite``), `nlpsuite chatbot serve`, the tests and the benchmark all
describe the servers with ``rasa_service`` and ``actions_service`` and hand them to the app's
``Supervisor``, so each starts the real servers the same way. With ``token_env``, the servers
take the suite's API token from that environment variable (``chatbot.rasa_launcher``,
``chatbot.actions_launcher``): never from the command line, where ``ps`` shows it.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Optional

from shared.errors import CommandError
from shared.product import Service, http_ready

BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on now (for tests and benchmarks that run servers side by side)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


MAX_REQUEST_BYTES = 1024 * 1024
"""The largest request body Rasa and the action server read (Sanic's default is 100 MB)."""


def rasa_env(extra: Optional[dict] = None, cache_dir: Optional[str | Path] = None) -> dict:
    """Environment for Rasa child processes: offline, quiet, no telemetry, no shared cache."""
    env = dict(os.environ)
    env.update({"RASA_TELEMETRY_ENABLED": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "TF_CPP_MIN_LOG_LEVEL": "2", "TOKENIZERS_PARALLELISM": "false", "USE_TF": "0",
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PYTHONWARNINGS": "ignore",
                # Sanic (Rasa's and rasa-sdk's server) refuses a larger body before reading it (413)
                "SANIC_REQUEST_MAX_SIZE": str(MAX_REQUEST_BYTES)})
    env.setdefault("OMP_NUM_THREADS", "1")
    if cache_dir:
        env["RASA_CACHE_DIRECTORY"] = str(cache_dir)
    env.update(extra or {})
    return env


def rasa_command(*args: str) -> list[str]:
    """Rasa's own command line (`rasa train`, `rasa test`, or a server without the token)."""
    return [str(BIN / "rasa"), *args]


def _guarded(launcher: str, token_env: Optional[str], args: list[str], python: str) -> list[str]:
    """Rasa's command line, or with ``token_env`` the launcher that adds the token from the
    environment. ``-P`` keeps the working directory off sys.path."""
    if token_env is None:
        return rasa_command(*args)
    return [python, "-P", "-m", launcher, token_env, *args]


def rasa_service(project_dir: str | Path, model: str | Path, *, port: int, env: dict, host: str = LOOPBACK,
                 token_env: Optional[str] = None, token: Optional[str] = None, logging_config=None,
                 cors: Optional[str] = None, name: str = "rasa", python: str = sys.executable) -> Service:
    """`rasa run --enable-api` with the REST channel; with ``token_env`` its HTTP API requires
    the token (``token``: the same value, for the readiness check). Ready once /status names
    the loaded model (Rasa answers `/` before that)."""
    args = ["run", "--enable-api", "-i", host, "-p", str(port), "-m", str(Path(model).resolve()),
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"]
    if cors:
        args += ["--cors", cors]
    if logging_config:
        args += ["--logging-config-file", str(logging_config)]
    return Service(name, _guarded("chatbot.rasa_launcher", token_env, args, python), port=port,
                   port_key="chatbot.rasa_port", host=host,
                   ready=http_ready(f"http://{host}:{port}/status",
                                    lambda r: r.status_code == 200 and bool(r.json().get("model_file")),
                                    params={"token": token} if token else None),
                   ready_timeout_s=240, env=env, cwd=Path(project_dir))


def actions_service(*, port: int, env: dict, cwd=None, token_env: Optional[str] = None, logging_config=None,
                    python: str = sys.executable) -> Service:
    """The rasa-sdk action server, on loopback whatever else is exposed: only Rasa calls it.
    With ``token_env`` it answers only callers that send the token."""
    args = ["--actions", "chatbot.actions", "-p", str(port)]
    if logging_config:
        args += ["--logging-config-file", str(logging_config)]
    command = (rasa_command("run", "actions", *args) if token_env is None
               else _guarded("chatbot.actions_launcher", token_env, args, python))
    return Service("actions", command, port=port, port_key="chatbot.action_port", host=LOOPBACK,
                   ready=http_ready(f"http://{LOOPBACK}:{port}/health"), ready_timeout_s=120,
                   # rasa-sdk reads its bind address from SANIC_HOST; the FAQ index loads before /health
                   env={**env, "SANIC_HOST": LOOPBACK, "NLPSUITE_ACTIONS_PRELOAD": "1"},
                   cwd=Path(cwd) if cwd else None)


def url(service: Service) -> str:
    """Where a described server answers."""
    return f"http://{service.host}:{service.port}"


class RasaTrainError(CommandError, RuntimeError):
    """`rasa train` exited with an error: the project's data or config (its log says which)."""


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
        raise RasaTrainError(f"rasa train failed (exit {result.returncode})" + (f"; see {log}" if log else ""))
    models = sorted(out_dir.glob(f"{name or '*'}.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1]
