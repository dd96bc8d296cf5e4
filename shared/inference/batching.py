"""Micro-batching: concurrent callers' small requests run as one batch.

A cross-encoder scoring 50 pairs for each of five concurrent requests does less work as one
call of 250 pairs than as five calls of 50 (one session run, one padded tensor), and a FAISS
search of five queries is one matrix product instead of five. ``MicroBatcher`` lets each
caller submit its own request from its own thread and wait for its own answer, while a worker
thread gathers whatever arrives within ``max_wait_ms`` (or until ``max_batch`` requests) and
runs them in one call.

A lone request does not wait. A caller says early that a request is coming (``expect()``, a
ticket it submits through later); a batch waits, up to the deadline, only while some ticket
is still out. Under load the deadline bounds the extra latency; alone a request pays nothing.

The function gets a list of requests and returns a list of answers in the same order. If it
raises, every request of that batch gets the exception.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Callable, Generic, Sequence, TypeVar

logger = logging.getLogger(__name__)

Request = TypeVar("Request")
Answer = TypeVar("Answer")


class MicroBatcher(Generic[Request, Answer]):
    """Gathers concurrent ``submit`` calls into batches for ``function`` (see the module doc).

    Args:
        function: answers a batch: ``function(requests) -> answers``, same length and order.
        max_batch: the most requests in one call.
        max_wait_ms: how long the first request of a batch waits for company.
        name: for the worker thread's name and log lines.
    """

    def __init__(self, function: Callable[[Sequence[Request]], Sequence[Answer]], *, max_batch: int = 16,
                 max_wait_ms: float = 3.0, name: str = "batcher"):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.function = function
        self.max_batch = int(max_batch)
        self.max_wait_s = max(0.0, float(max_wait_ms)) / 1000.0
        self.name = name
        self._pending: list[tuple[Request, Future]] = []
        self._expected = 0
        self._condition = threading.Condition()
        self._worker: threading.Thread | None = None
        self._closed = False
        self.batches = 0
        """How many calls of ``function`` so far (for tests and stats)."""
        self.requests = 0

    # -- callers ----------------------------------------------------------------------------
    def expect(self) -> "Ticket":
        """A ticket for a request this caller will submit soon (or cancel): until it does,
        a forming batch waits for it, up to the deadline. Use it as a context manager."""
        with self._condition:
            self._expected += 1
        return Ticket(self)

    def submit(self, request: Request) -> Future:
        """Queue one request; the future resolves to its answer (or its batch's exception)."""
        return self._queue(request, ticket=False)

    def __call__(self, request: Request) -> Answer:
        """Submit and wait: the blocking form, for callers on worker threads (never the event loop)."""
        return self.submit(request).result()

    def _queue(self, request: Request, *, ticket: bool) -> Future:
        future: Future = Future()
        with self._condition:
            if ticket:
                self._expected -= 1
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            self._pending.append((request, future))
            self._ensure_worker()
            self._condition.notify_all()
        return future

    def _cancel(self) -> None:
        with self._condition:
            self._expected -= 1
            self._condition.notify_all()

    def close(self) -> None:
        """Stop the worker after the queued requests have run."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=5)

    # -- the worker -------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._run, name=f"{self.name}-worker", daemon=True)
            self._worker.start()

    def _take_batch(self) -> list[tuple[Request, Future]] | None:
        with self._condition:
            while not self._pending:
                if self._closed:
                    return None
                self._condition.wait()
            deadline = time.monotonic() + self.max_wait_s
            while len(self._pending) < self.max_batch and self._expected > 0 and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(left)
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch:]
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            requests = [request for request, _ in batch]
            try:
                answers = list(self.function(requests))
                if len(answers) != len(requests):
                    raise RuntimeError(f"{self.name}: {len(requests)} requests but {len(answers)} answers")
            except BaseException as exc:  # every caller of the batch hears of it
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self.batches += 1
            self.requests += len(batch)
            for (_, future), answer in zip(batch, answers):
                future.set_result(answer)


class Ticket:
    """One expected request of a ``MicroBatcher``: ``submit`` it once, or let it go unused
    (leaving the ``with`` block, or ``cancel()``), so batches stop waiting for it."""

    def __init__(self, batcher: MicroBatcher):
        self._batcher = batcher
        self._open = True

    def submit(self, request) -> Future:
        if not self._open:
            raise RuntimeError("a ticket submits one request")
        self._open = False
        return self._batcher._queue(request, ticket=True)

    def cancel(self) -> None:
        if self._open:
            self._open = False
            self._batcher._cancel()

    def __enter__(self) -> "Ticket":
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()
