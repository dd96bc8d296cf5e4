"""The daemon: APScheduler 3.9 runs the poll cycle at an interval, its job kept in the same
database through a SQLAlchemyJobStore.

``max_instances=1`` means a slow cycle is never overlapped by the next one; ``coalesce`` turns
runs missed while the process was down or busy into one; ``misfire_grace_time`` drops a run
that is later than that rather than starting it at a surprising moment. SIGINT and SIGTERM
stop the scheduler after the running cycle has finished (each step commits its own work, so
even a hard kill loses nothing; a clean stop just finishes the cycle).

A monitor schedules only while it holds the database's scheduler lock
(``finsentiment.leader``): a second monitor on the same database waits as a standby, checking
every second, and takes over when the active one dies.
"""
from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone
from typing import Optional

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from finsentiment.monitor import Monitor

logger = logging.getLogger(__name__)

JOB_ID = "finsentiment-poll"
JOB_TABLE = "apscheduler_jobs"

# The job store pickles a job as "module:function" plus its arguments, so the job refers to
# its monitor by key; the process that runs the scheduler registers the live monitor here.
_MONITORS: dict[str, Monitor] = {}


def poll_job(key: str) -> None:
    """The scheduler's job: one poll cycle of the monitor registered as ``key`` in this process (the job store
    keeps only the key). A failed cycle is logged, not raised, so the daemon keeps its schedule."""
    monitor = _MONITORS.get(key)
    if monitor is None:
        logger.error("no monitor registered as %r in this process; skipping the run", key)
        return
    try:
        monitor.poll_once()
    except Exception:  # the scheduler would log it too; keep the daemon alive for the next run
        logger.exception("poll cycle failed; the next run picks up where this one stopped")


def job_store_engine(url: str):
    """An engine for APScheduler 3.9's job store, which still calls SQLAlchemy's 1.x API (so not
    the store's 2.0-style engine); a server's password from the environment as everywhere."""
    from sqlalchemy import create_engine

    from shared.sqlite import with_password

    return create_engine(with_password(url), pool_pre_ping=True)


def build_scheduler(monitor: Monitor, key: str = "default", *, first_run: Optional[datetime] = None) -> BackgroundScheduler:
    """A scheduler with the poll job stored in the monitor's database (replacing an old one)."""
    config = monitor.config
    _MONITORS[key] = monitor
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=job_store_engine(config.database_url), tablename=JOB_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": config.misfire_grace_s},
        timezone=timezone.utc,
    )
    scheduler.add_job(poll_job, "interval", seconds=config.poll_interval_s, id=JOB_ID, name="poll feeds",
                      args=[key], replace_existing=True,
                      next_run_time=first_run or datetime.now(timezone.utc))
    return scheduler


LOCK_RETRY_S = 1.0
LOCK_CHECK_S = 2.0


def run_forever(monitor: Monitor, stop: Optional[threading.Event] = None, *, install_signals: bool = True) -> None:
    """Run until SIGINT/SIGTERM (or ``stop`` is set), then shut down after the running cycle;
    poll only while this process holds the scheduler lock (a standby until then)."""
    from finsentiment.leader import SchedulerLock

    stop = stop or threading.Event()
    previous = {}
    if install_signals:
        def handle(signum, _frame):
            logger.info("received %s: stopping after the running cycle", signal.Signals(signum).name)
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handle)
    lock = SchedulerLock(monitor.store)
    try:
        while not stop.is_set():
            if _wait_for_lock(lock, stop):
                _schedule_while_held(monitor, lock, stop)
    finally:
        lock.release()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        monitor.store.dispose()
        logger.info("stopped")


def _wait_for_lock(lock, stop: threading.Event) -> bool:
    """Block until this process holds the scheduler lock (True) or ``stop`` is set (False)."""
    waiting = False
    while not stop.is_set():
        try:
            if lock.try_acquire():
                logger.info("scheduler lock taken: this monitor is the active one")
                return True
        except Exception as exc:  # the database is down: keep trying, as a standby would
            logger.warning("cannot reach the database for the scheduler lock: %s", exc)
        if not waiting:
            logger.info("standby: another monitor holds the scheduler lock; taking over when it stops")
            waiting = True
        stop.wait(LOCK_RETRY_S)
    return False


def _schedule_while_held(monitor: Monitor, lock, stop: threading.Event) -> None:
    scheduler = build_scheduler(monitor)
    scheduler.start()
    logger.info("polling %d feeds every %g s (Ctrl-C or SIGTERM stops)", len(monitor.config.feeds),
                monitor.config.poll_interval_s)
    try:
        while not stop.wait(LOCK_CHECK_S):
            if not lock.still_held():
                logger.error("lost the scheduler lock: polling stops until it is taken again")
                break
    finally:
        scheduler.shutdown(wait=True)
