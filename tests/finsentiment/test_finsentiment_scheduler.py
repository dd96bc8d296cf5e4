"""The daemon: APScheduler with a persistent job store, no overlapping runs, clean SIGTERM stop."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml
from fin_testlib import Route, entries_for, rss
from sqlalchemy import create_engine, text

from finsentiment.fetching import MemoryFetcher
from finsentiment.monitor import Monitor
from finsentiment.notify import MemoryNotifier
from finsentiment.scheduler import JOB_ID, JOB_TABLE, build_scheduler, run_forever

REPO = Path(__file__).resolve().parents[2]


class CountingMonitor(Monitor):
    """Records how many cycles ran and the most that ran at the same time."""

    def __init__(self, *args, cycle_s: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.cycle_s, self.runs, self.running, self.max_running = cycle_s, 0, 0, 0
        self._lock = threading.Lock()

    def poll_once(self):
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            report = super().poll_once()
            time.sleep(self.cycle_s)
            return report
        finally:
            with self._lock:
                self.running -= 1
                self.runs += 1


def test_scheduler_polls_at_the_interval_without_overlap(make_config, loaded_sentiment):
    fetcher = MemoryFetcher({"mem://wire": rss(entries_for("negative", 5, "Nokia", "s1"))})
    config = make_config(feeds=[{"name": "wire", "url": "mem://wire"}], poll_interval_s=0.3)
    # Each cycle takes longer than the interval: max_instances=1 must keep them from overlapping.
    monitor = CountingMonitor(config, fetcher=fetcher, notifier=MemoryNotifier(), sentiment=loaded_sentiment,
                              cycle_s=0.5)
    scheduler = build_scheduler(monitor, key="test-interval")
    scheduler.start()
    try:
        deadline = time.time() + 20
        while monitor.runs < 1 and time.time() < deadline:
            time.sleep(0.05)
        fetcher.feeds["mem://wire"] = rss(entries_for("negative", 5, "Nokia", "s1") + entries_for("neutral", 2, "Kone", "s2"))
        while monitor.runs < 4 and time.time() < deadline:
            time.sleep(0.05)
        # The job lives in the database, next to the monitor's tables.
        with create_engine(config.database_url).connect() as connection:
            ids = [row[0] for row in connection.execute(text(f"SELECT id FROM {JOB_TABLE}"))]
        assert ids == [JOB_ID]
    finally:
        scheduler.shutdown(wait=True)
    assert monitor.runs >= 4 and monitor.max_running == 1
    counts = monitor.store.counts()
    assert counts["articles"] == 7 and counts["scores"] == 7 and counts["alerts"] == 1


def test_run_forever_stops_cleanly_when_asked(make_config, loaded_sentiment):
    config = make_config(feeds=[{"name": "wire", "url": "mem://wire"}], poll_interval_s=60)
    monitor = CountingMonitor(config, fetcher=MemoryFetcher({"mem://wire": rss(entries_for("neutral", 2, "Kone", "r"))}),
                              notifier=MemoryNotifier(), sentiment=loaded_sentiment)
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(monitor, stop), kwargs={"install_signals": False})
    thread.start()
    deadline = time.time() + 20
    while monitor.runs < 1 and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(15)
    assert not thread.is_alive() and monitor.runs == 1  # the first run is immediate, the next in 60 s


def test_daemon_process_stops_on_sigterm(tmp_path, sentiment_model, feed_server):
    feed_server.routes["/wire.xml"] = Route(rss(entries_for("negative", 5, "Nokia", "p")))
    config_file = tmp_path / "nlpsuite.yml"
    config_file.write_text(yaml.safe_dump({"finsentiment": {
        "feeds": [{"name": "wire", "url": feed_server.url("/wire.xml")}],
        "topics": [{"name": "Nokia", "keywords": ["Nokia"]}],
        "database_url": f"sqlite:///{tmp_path / 'daemon.db'}", "outbox_dir": str(tmp_path / "outbox"),
        "model_dir": str(sentiment_model), "backend": "torch", "threads": 1, "poll_interval_s": 3600,
        "alerts": {"min_items": 4},
    }}))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen([sys.executable, "-m", "shared.app.cli", "finsentiment", "run", "--config", str(config_file)],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 90
        while not list((tmp_path / "outbox").glob("*.eml")) and time.time() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert list((tmp_path / "outbox").glob("*.eml")), "the daemon sent no alert"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "received SIGTERM" in output and "finsentiment: stopped" in output


def test_a_second_monitor_stands_by_and_takes_over_when_the_active_one_stops(make_config, loaded_sentiment):
    """Two daemons on one database: only the holder of the scheduler lock polls; the standby
    starts polling once the active one is gone (here on SQLite: flock beside the database)."""
    from finsentiment.leader import current_leader

    config = make_config(feeds=[{"name": "wire", "url": "mem://wire"}], poll_interval_s=0.2)
    feeds = {"mem://wire": rss(entries_for("neutral", 2, "Kone", "lead"))}
    first, second = (CountingMonitor(config, fetcher=MemoryFetcher(dict(feeds)), notifier=MemoryNotifier(),
                                     sentiment=loaded_sentiment) for _ in range(2))
    stops = [threading.Event(), threading.Event()]
    threads = [threading.Thread(target=run_forever, args=(monitor, stop), kwargs={"install_signals": False})
               for monitor, stop in zip((first, second), stops)]
    threads[0].start()
    deadline = time.time() + 20
    while first.runs < 1 and time.time() < deadline:
        time.sleep(0.05)
    threads[1].start()
    try:
        time.sleep(1.5)  # several intervals: a second active scheduler would have polled by now
        assert first.runs >= 2 and second.runs == 0
        stops[0].set()
        threads[0].join(15)
        while second.runs < 1 and time.time() < deadline + 10:
            time.sleep(0.05)
        assert second.runs >= 1
        assert current_leader(second.store)[0].endswith(f":{os.getpid()}")
    finally:
        for stop, thread in zip(stops, threads):
            stop.set()
            thread.join(15)
