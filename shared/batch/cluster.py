"""A Spark standalone cluster on this machine: one master and one worker on 127.0.0.1, started
and stopped with Spark's own ``sbin/spark-daemon.sh`` from the PySpark package (PID files in
a folder of ours), for tests and benchmarks that need a real executor outside the driver.

A real cluster is started by its operators; ``nlpsuite batch ... --master spark://HOST:7077``
is all the suite needs of it (docs/scale.md).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.errors import NlpSuiteError

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


class ClusterError(NlpSuiteError, RuntimeError):
    """The local standalone cluster did not come up (its logs are named)."""


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalCluster:
    """``with LocalCluster(folder, cores=2) as cluster:`` then ``master=cluster.url``."""

    folder: Path
    cores: int = 2
    memory: str = "2g"
    port: int = field(default_factory=_free_port)
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _environment(self) -> dict:
        env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
               "SPARK_MASTER_HOST": "127.0.0.1", "SPARK_PID_DIR": str(self.folder / "pids"),
               "SPARK_LOG_DIR": str(self.folder / "logs"), "SPARK_WORKER_DIR": str(self.folder / "work"),
               "SPARK_LOCAL_DIRS": str(self.folder / "local"), "PYSPARK_PYTHON": sys.executable,
               "SPARK_IDENT_STRING": f"nlpsuite{self.port}"}
        return env | self.env

    def _daemon(self, action: str, cls: str, *args: str) -> None:
        script = spark_home() / "sbin" / "spark-daemon.sh"
        done = subprocess.run(["bash", str(script), action, cls, "1", *args], env=self._environment(),
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0 and action == "start":
            raise ClusterError(f"{cls} did not start: {done.stdout[-500:]}{done.stderr[-500:]}")

    def start(self, timeout_s: float = 90) -> "LocalCluster":
        for name in ("pids", "logs", "work", "local"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        self._daemon("start", MASTER_CLASS, "--host", "127.0.0.1", "--port", str(self.port),
                     "--webui-port", str(_free_port()))
        self._daemon("start", WORKER_CLASS, self.url, "--cores", str(self.cores), "--memory", self.memory,
                     "--webui-port", str(_free_port()), "--work-dir", str(self.folder / "work"))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:  # the master logs each worker it registers
            logs = "".join(p.read_text(errors="replace") for p in (self.folder / "logs").glob("*Master*.out"))
            if "Registering worker" in logs:
                return self
            time.sleep(0.5)
        self.stop()
        raise ClusterError(f"no worker registered within {timeout_s:.0f} s; see {self.folder / 'logs'}")

    def stop(self) -> None:
        """Stop the worker, then the master, by their PID files (each also stops its executors)."""
        self._daemon("stop", WORKER_CLASS)
        self._daemon("stop", MASTER_CLASS)

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
