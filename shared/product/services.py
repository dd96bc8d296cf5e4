"""How a product describes a server for the app's supervisor to run: the command line, the
port and the key that sets it, and how to tell that it is ready.

Only a description: starting, watching and restarting is the app's job
(``shared.app.supervisor``), so a product never manages processes itself.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import httpx


@dataclass
class Service:
    """One server for the supervisor: command line, port (and the config key that sets it), readiness."""

    name: str
    command: list[str]
    port: Optional[int] = None
    port_key: str = ""
    """The config key that sets ``port``, named in the error when the port is taken."""
    host: str = "127.0.0.1"
    ready: Optional[Callable[[], bool]] = None
    ready_log: Optional[str] = None
    """Ready once the service's log holds this text (for services without a port)."""
    ready_timeout_s: float = 180.0
    env: dict = field(default_factory=dict)
    cwd: Optional[Path] = None
    oneshot: bool = False
    """A job, not a server: ready once started, done when it exits 0 (not restarted then)."""
    front_port: Optional[int] = None
    """A replica (``suite.replicas``): the suite's proxy listens on this port and balances over
    every service with the same front port, sending each request to one that passes its check."""
    front_key: str = ""
    """The config key that sets ``front_port``, named when that port is taken."""
    check_path: str = "/"
    """What the proxy asks a replica every second (HTTP 200 means it takes requests)."""


def replica_port(port: int, offset: int, index: int) -> int:
    """Where replica ``index`` (1, 2, ...) of a server whose proxy takes ``port`` listens."""
    return port + offset + index


def http_ready(url: str, check: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
               params: dict | None = None):
    """``params`` (an API token, say) go with the request but into no message or log line."""
    def ready() -> bool:
        try:
            return check(httpx.get(url, params=params, timeout=5))
        except httpx.HTTPError:
            return False
    return ready


def smtp_ready(host: str, port: int):
    """A readiness check: the server at ``host:port`` greets with SMTP's 220."""
    def ready() -> bool:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                return s.recv(64).startswith(b"220")
        except OSError:
            return False
    return ready


@dataclass
class ServeRequest:
    """What a product's `serve` command returns: the servers to run until Ctrl-C, for the app
    to start under its one supervisor (``shared.app.serve``), with the suite's web app beside
    them when ``web_port`` is set. A product thereby never starts or stops processes itself."""

    services: list[Service]
    log_dir: Path
    env: dict = field(default_factory=dict)
    """Added to the environment of every server (the config file, the API token's variable)."""
    web_host: str = "127.0.0.1"
    web_port: Optional[int] = None
    ready_message: str = ""
    """Printed once every server is ready (the URLs a person opens)."""
    max_restarts: int = 3
