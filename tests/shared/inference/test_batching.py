"""MicroBatcher: concurrent requests share one call, a lone request runs at once, answers reach
their own caller, and a failing batch fails every request in it."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.inference.batching import MicroBatcher


def _recording(batches: list):
    def function(requests):
        batches.append(list(requests))
        return [r * 10 for r in requests]
    return function


def test_answers_go_to_their_own_callers():
    batches: list = []
    batcher = MicroBatcher(_recording(batches), max_batch=4, max_wait_ms=5)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(batcher, range(40)))
    assert answers == [n * 10 for n in range(40)]
    assert sum(len(b) for b in batches) == 40 and max(len(b) for b in batches) <= 4
    batcher.close()


def test_a_lone_request_does_not_wait_for_company():
    batches: list = []
    batcher = MicroBatcher(_recording(batches), max_wait_ms=60_000)  # a deadline nobody could wait out
    assert batcher(3) == 30 and batches == [[3]]
    batcher.close()


def test_a_batch_waits_for_an_announced_request():
    batches: list = []
    batcher = MicroBatcher(_recording(batches), max_wait_ms=60_000)
    ticket = batcher.expect()  # another caller says a request is coming
    first = batcher.submit(1)
    threading.Timer(0.05, lambda: ticket.submit(2)).start()
    assert first.result(timeout=10) == 10
    assert batches == [[1, 2]]  # the first waited for the announced one, then both ran together
    batcher.close()


def test_a_cancelled_ticket_releases_the_batch():
    batches: list = []
    batcher = MicroBatcher(_recording(batches), max_wait_ms=60_000)
    with batcher.expect():
        future = batcher.submit(5)
    assert future.result(timeout=10) == 50 and batches == [[5]]
    batcher.close()


def test_deadline_bounds_the_wait_for_a_ticket_never_used():
    batches: list = []
    batcher = MicroBatcher(_recording(batches), max_wait_ms=20)
    ticket = batcher.expect()
    assert batcher.submit(7).result(timeout=10) == 70  # the deadline passed; it ran without the other
    ticket.cancel()
    batcher.close()


def test_a_failing_batch_fails_each_of_its_requests():
    def broken(requests):
        raise RuntimeError("backend down")

    batcher = MicroBatcher(broken)
    with pytest.raises(RuntimeError, match="backend down"):
        batcher(1)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher, n) for n in range(4)]
    for future in futures:
        with pytest.raises(RuntimeError, match="backend down"):
            future.result()
    batcher.close()


def test_a_wrong_number_of_answers_is_an_error():
    batcher = MicroBatcher(lambda requests: [0], max_wait_ms=60_000)
    ticket = batcher.expect()
    first = batcher.submit(1)
    second = ticket.submit(2)  # the two run as one batch, which answers once
    for future in (first, second):
        with pytest.raises(RuntimeError, match="2 requests but 1 answers"):
            future.result(timeout=10)
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(1)
