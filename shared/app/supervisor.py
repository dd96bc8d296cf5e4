"""Child processes of `nlpsuite run`: start, wait until ready, watch, restart, stop.

A ``Service`` says how to start one server and how to tell that it is ready; the
``Supervisor`` starts them together and waits until each is ready, restarts one that crashes (a few times), and stops all of
them in reverse order on Ctrl-C or SIGTERM, so that no process is left behind. Children get
SIGTERM if the supervisor itself dies (Linux ``PR_SET_PDEATHSIG``).
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.errors import CommandError, NlpSuiteError
from shared.product.services import Service

logger = logging.getLogger("nlpsuite.suite")
PR_SET_PDEATHSIG = 1


class ServiceError(NlpSuiteError, RuntimeError):
    """A service that would not start or keeps crashing; the message ends with its log tail."""


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (checked before anything starts)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setsid()  # own process group: a terminal's Ctrl-C reaches the supervisor, which stops us in order


@dataclass
class Running:
    """A started service: its process, its log and when it was restarted."""

    service: Service
    popen: subprocess.Popen
    log: Path
    restarts: list[float] = field(default_factory=list)
    log_offset: int = 0  # where this start's output begins in the (appended) log
    finished: bool = False
    """A one-shot job that exited 0: done, not restarted."""

    def tail(self, n: int = 30) -> str:
        """The last ``n`` lines of the service's log, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Supervisor:
    """Starts services together, waits until each is ready, restarts crashes, stops all in reverse order."""

    def __init__(self, log_dir: Path, base_env: dict, max_restarts: int = 3):
        self.log_dir = Path(log_dir)
        self.base_env = base_env
        self.max_restarts = max_restarts
        self.running: list[Running] = []

    def check_ports(self, services: list[Service]) -> None:
        """Every port free before anything starts, so a clash never leaves half a suite running."""

        seen: dict[int, str] = {}
        for s in services:
            if s.port is None:
                continue
            if s.port in seen:
                raise CommandError(f"{s.port_key} and {seen[s.port]} are both port {s.port}; give them different ports")
            seen[s.port] = s.port_key
            if port_in_use(s.host, s.port):
                env = "NLPSUITE__" + s.port_key.upper().replace(".", "__")
                raise CommandError(f"port {s.port} on {s.host} ({s.port_key}, for {s.name}) is already in use: "
                                   f"stop what holds it, or choose another port ({s.port_key} in the config "
                                   f"or {env}=...)")

    def _spawn(self, service: Service, append: bool = False) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{service.name}.log"
        with open(log, "ab" if append else "wb") as output:
            popen = subprocess.Popen(service.command, cwd=service.cwd, env={**self.base_env, **service.env},
                                     stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        (self.log_dir / f"{service.name}.pid").write_text(f"{popen.pid}\n")  # for operators (and the load test)
        logger.info("started %s (pid %d)", service.name, popen.pid)
        return popen

    @staticmethod
    def _is_ready(item: Running) -> bool:
        service = item.service
        if service.oneshot:
            return True
        if service.ready_log is not None:
            try:
                with open(item.log, "rb") as f:
                    f.seek(item.log_offset)
                    if service.ready_log.encode() not in f.read():
                        return False
            except OSError:
                return False
        return service.ready is None or service.ready()

    def _wait_ready(self, item: Running) -> None:
        deadline = time.monotonic() + item.service.ready_timeout_s
        while not self._is_ready(item):
            if item.popen.poll() is not None:
                raise ServiceError(f"{item.service.name} exited with {item.popen.returncode} while starting; "
                                   f"the end of {item.log}:\n{item.tail()}")
            if time.monotonic() > deadline:
                raise ServiceError(f"{item.service.name} not ready after {item.service.ready_timeout_s:.0f} s; "
                                   f"the end of {item.log}:\n{item.tail()}")
            time.sleep(0.3)

    def start(self, services: list[Service]) -> None:
        """Start all, then wait for each in order: start-up time is the slowest one's, not the sum
        (a service that needs another retries until it is there, as Rasa does for its actions)."""
        for service in services:
            self.running.append(Running(service, self._spawn(service), self.log_dir / f"{service.name}.log"))
        for item in self.running:
            self._wait_ready(item)
            logger.info("%s ready", item.service.name)

    def watch_once(self) -> None:
        """Restart any service that died; too many restarts in ten minutes is a ServiceError."""
        for item in self.running:
            code = item.popen.poll()
            if code is None or item.finished:
                continue
            if item.service.oneshot and code == 0:
                item.finished = True
                logger.info("%s finished", item.service.name)
                continue
            now = time.monotonic()
            item.restarts = [t for t in item.restarts if now - t < 600]
            if len(item.restarts) >= self.max_restarts:
                raise ServiceError(f"{item.service.name} crashed {len(item.restarts) + 1} times in ten minutes "
                                   f"(last exit {code}); the end of {item.log}:\n{item.tail()}")
            logger.warning("%s exited with %s; starting it again", item.service.name, code)
            item.restarts.append(now)
            item.log_offset = item.log.stat().st_size if item.log.is_file() else 0
            item.popen = self._spawn(item.service, append=True)
            self._wait_ready(item)
            logger.info("%s ready again", item.service.name)

    def stop(self, timeout_s: float = 20) -> None:
        """SIGINT (graceful for Rasa, uvicorn, the scheduler) in reverse order, then SIGKILL."""
        for item in reversed(self.running):
            if item.popen.poll() is None:
                try:
                    os.killpg(item.popen.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout_s
        for item in reversed(self.running):
            try:
                item.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in time; killing it", item.service.name)
                try:
                    os.killpg(item.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                item.popen.wait(5)
            (self.log_dir / f"{item.service.name}.pid").unlink(missing_ok=True)
            logger.info("stopped %s", item.service.name)
        self.running = []
