"""Child processes of `nlpsuite run`: start, wait until ready, watch, restart, stop.

A ``Service`` says how to start one server and how to tell that it is ready; the
``Supervisor`` starts them together and waits until each is ready, then watches them without
ever blocking: a service that exits is started again after an exponential back-off (1 s, 2 s,
4 s ... up to a minute); one whose health probe stays silent (hung) is killed and restarted the
same way; one that keeps crashing is marked failed (in ``services.json`` beside the logs, which
``/health`` and the home page show) and tried again later, while the others keep serving. Ctrl-C
or SIGTERM stops all of them in reverse order in any state, so that no process is left behind.
Children get SIGTERM if the supervisor itself dies (Linux ``PR_SET_PDEATHSIG``).
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from shared.app.service_state import Restarts, Running
from shared.errors import CommandError, NlpSuiteError
from shared.product.services import Service

logger = logging.getLogger("nlpsuite.suite")
PR_SET_PDEATHSIG = 1
SERVICES_STATUS = "services.json"
"""Each service's state, written beside the logs by the supervisor (``Supervisor.write_status``)."""


class ServiceError(NlpSuiteError, RuntimeError):
    """A service that would not start or keeps crashing; the message ends with its log tail."""


class StopRequested(Exception):
    """Ctrl-C or SIGTERM arrived while the supervisor waited for a service: stop now."""


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


class Supervisor:
    """Starts services together, waits until each is ready, restarts crashes with back-off,
    stops all in reverse order. ``keep_going``: a service that crashes ``max_restarts`` times in
    ten minutes is marked failed and retried later (`nlpsuite run`); otherwise that is a ``ServiceError``."""

    def __init__(self, log_dir: Path, base_env: dict, max_restarts: int = 3, *, keep_going: bool = False,
                 restarts: Restarts | None = None):
        self.log_dir = Path(log_dir)
        self.base_env = base_env
        self.max_restarts = max_restarts
        self.keep_going = keep_going
        self.policy = restarts or Restarts()
        self.running: list[Running] = []
        self.stopping = threading.Event()
        """Set by the signal handler: every wait gives up and ``stop`` follows."""

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

    def start(self, services: list[Service]) -> None:
        """Start all, then wait for each in order: start-up time is the slowest one's, not the sum
        (a service that needs another retries until it is there, as Rasa does for its actions).
        A service that fails here is a ``ServiceError``: a broken set-up shows at once."""
        for service in services:
            self.running.append(Running(service, self._spawn(service), self.log_dir / f"{service.name}.log"))
        self.write_status()
        for item in self.running:
            self._wait_ready(item)
            item.became("ready")
            logger.info("%s ready", item.service.name)
        self.write_status()

    def _wait_ready(self, item: Running) -> None:
        deadline = time.monotonic() + item.service.ready_timeout_s
        while not item.is_ready():
            if item.popen.poll() is not None:
                raise ServiceError(f"{item.service.name} exited with {item.popen.returncode} while starting; "
                                   f"the end of {item.log}:\n{item.tail()}")
            if time.monotonic() > deadline:
                raise ServiceError(f"{item.service.name} not ready after {item.service.ready_timeout_s:.0f} s; "
                                   f"the end of {item.log}:\n{item.tail()}")
            if self.stopping.wait(0.3):
                raise StopRequested()

    def watch_once(self) -> None:
        """One look at every service; never waits for one (see the module docstring)."""
        changed = False
        for item in self.running:
            changed |= self._step(item, time.monotonic())
        if changed:
            self.write_status()

    def _step(self, item: Running, now: float) -> bool:
        """Move ``item`` on by what it is doing now; whether its state changed."""
        if item.state == "finished":
            return False
        if item.state in ("waiting", "failed"):
            if now < item.next_start:
                return False
            item.log_offset = item.log.stat().st_size if item.log.is_file() else 0
            item.popen = self._spawn(item.service, append=True)
            return item.became("starting")
        code = item.popen.poll()
        if code is not None:
            if item.service.oneshot and code == 0:
                logger.info("%s finished", item.service.name)
                return item.became("finished")
            return self._crashed(item, now, f"exited with {code}", code)
        if item.state == "starting":
            if item.is_ready():
                logger.info("%s ready again", item.service.name)
                return item.became("ready")
            if now - item.state_started > item.service.ready_timeout_s:
                return self._crashed(item, now, f"not ready after {item.service.ready_timeout_s:.0f} s", kill=True)
            return False
        if item.probe_due(now, self.policy) and item.hung(self.policy):
            return self._crashed(item, now, f"silent to {self.policy.probe_failures} health probes in a row "
                                            "(hung)", kill=True)
        return False

    def _crashed(self, item: Running, now: float, why: str, code: int | None = None, kill: bool = False) -> bool:
        if kill:
            _kill_group(item.popen)
        item.last_exit, item.reason = code, why
        item.restarts = [t for t in item.restarts if now - t < self.policy.window_s]
        if len(item.restarts) >= self.max_restarts:
            message = (f"{item.service.name} crashed {len(item.restarts) + 1} times in ten minutes "
                       f"(last: {why}); the end of {item.log}:\n{item.tail()}")
            if not self.keep_going:
                raise ServiceError(message)
            logger.error("%s; marked failed, tried again in %.0f s, the other services go on",
                         message, self.policy.failed_retry_s)
            item.restarts = []
            item.next_start = now + self.policy.failed_retry_s
            return item.became("failed")
        delay = self.policy.delay(len(item.restarts))
        logger.warning("%s %s; starting it again in %.0f s", item.service.name, why, delay)
        item.restarts.append(now)
        item.next_start = now + delay
        return item.became("waiting")

    def write_status(self) -> None:
        """``services.json`` beside the logs: each service's state, for /health and the home page."""
        from shared.atomic import write_text_atomically

        self.log_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.log_dir / SERVICES_STATUS,
                              json.dumps({item.service.name: item.status() for item in self.running}, indent=1))

    def stop(self, timeout_s: float = 15) -> None:
        """SIGINT (graceful for Rasa, uvicorn, the scheduler) in reverse order, SIGKILL after
        ``timeout_s``: everything is down within 20 s whatever state it was in."""
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
                _kill_group(item.popen)
            (self.log_dir / f"{item.service.name}.pid").unlink(missing_ok=True)
            logger.info("stopped %s", item.service.name)
        self.running = []
        (self.log_dir / SERVICES_STATUS).unlink(missing_ok=True)


def _kill_group(popen: subprocess.Popen) -> None:
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        popen.wait(5)
    except subprocess.TimeoutExpired:
        logger.error("process %d survived SIGKILL for 5 s", popen.pid)
