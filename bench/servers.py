"""Real PostgreSQL and Redis servers for the tests and ``bench.replicas``, as the Spark tests run a
real master and worker.

Both come from Debian's packages (``make setup`` installs them when missing), start on 127.0.0.1
on a free port with every file in a temporary folder, and stop by their PID: nothing is
mocked, nothing outlives the test session, and no system-wide service is touched. PostgreSQL
refuses to run as root, so under root the server runs as Debian's ``postgres`` user.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path



def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PASSWORD_ENV = "NLPSUITE_TEST_DB_PASSWORD"


def postgres_bin(name: str) -> str:
    """A PostgreSQL program from Debian's versioned folder (newest version), e.g. ``initdb``."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"PostgreSQL's {name} is missing: `make setup` installs Debian's postgresql")
    return found[-1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout_s} s; see {log}")


@dataclass
class Server:
    """A started server: its port, PID and folder; ``stop`` ends it by PID and waits."""

    name: str
    port: int
    proc: subprocess.Popen
    folder: Path
    owns_folder: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 30) -> None:
        """SIGINT: PostgreSQL's fast shutdown, Redis's clean one; SIGKILL after ``timeout_s``."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.owns_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Postgres(Server):
    """A PostgreSQL cluster of its own: user ``nlpsuite`` with ``password``, database ``nlpsuite``."""

    password: str = ""

    def url(self, database: str = "nlpsuite", *, with_password: bool = True) -> str:
        secret = f":{self.password}" if with_password else ""
        return f"postgresql://nlpsuite{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh database in this cluster; returns its URL."""
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


def start_postgres(password: str = "test-secret") -> Postgres:
    """initdb in a new folder under /tmp (password authentication over TCP), then the server on a
    free port. The folder is its own, not pytest's: under root the ``postgres`` account must
    reach it, and pytest's base folder is private to root. ``stop`` removes it."""
    folder = Path(tempfile.mkdtemp(prefix="nlpsuite-postgres-"))
    data, sockets = folder / "data", folder / "sockets"
    for path in (data, sockets):
        path.mkdir(parents=True, exist_ok=True)
    run_as = _postgres_user()
    pwfile = folder / "pwfile"
    pwfile.write_text(password + "\n")
    if run_as is not None:
        for path in (folder, data, sockets, pwfile):
            os.chown(path, run_as.pw_uid, run_as.pw_gid)
    log = folder / "postgres.log"
    subprocess.run([postgres_bin("initdb"), "-D", str(data), "-U", "nlpsuite", "--pwfile", str(pwfile),
                    "--auth-host", "scram-sha-256", "--auth-local", "trust", "-E", "UTF8", "--no-instructions"],
                   check=True, capture_output=True, user=run_as.pw_uid if run_as else None,
                   group=run_as.pw_gid if run_as else None)
    pwfile.unlink()
    port = free_port()
    proc = subprocess.Popen([postgres_bin("postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                             "-k", str(sockets), "-c", "fsync=off"], stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            user=run_as.pw_uid if run_as else None, group=run_as.pw_gid if run_as else None,
                            start_new_session=True)
    _wait_for_port(port, proc, log)
    server = Postgres("postgres", port, proc, folder, True, password)
    _wait_for_login(server)
    subprocess.run([postgres_bin("createdb"), "-h", str(sockets), "-p", str(port), "-U", "nlpsuite", "nlpsuite"],
                   check=True, capture_output=True, user=run_as.pw_uid if run_as else None,
                   group=run_as.pw_gid if run_as else None)
    return server


def _wait_for_login(server: Postgres, timeout_s: float = 30) -> None:
    """The port opens a moment before the server accepts logins (recovery at start)."""
    deadline = time.monotonic() + timeout_s
    while subprocess.run([postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(server.port)],
                         capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"PostgreSQL on port {server.port} did not accept connections")
        time.sleep(0.1)


def _postgres_user():
    """Debian's ``postgres`` account when running as root (the server refuses root), else None."""
    return pwd.getpwnam("postgres") if os.geteuid() == 0 else None


def start_redis(folder: Path) -> Server:
    """``redis-server`` on a free port, its files in ``folder``, no persistence to disk."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is missing: `make setup` installs Debian's redis-server")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), folder / "redis.log"
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
                             "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    _wait_for_port(port, proc, log)
    return Server("redis", port, proc, folder)
