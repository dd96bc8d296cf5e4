"""chatbot.verification on its own: codes, lock, idle expiry, demo sign-in (a real SQLite bank)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from email import message_from_bytes, policy

from chatbot.bank import Bank, seed_demo
from chatbot.verification import (IDLE_MINUTES, MAX_FAILURES, Outcome, Verifier, parse_code,
                                  seed_demo_logins)


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 5, 9, 0)

    def __call__(self):
        return self.now


def _verifier(tmp_path):
    bank = Bank(f"sqlite:///{tmp_path / 'bank.db'}")
    seed_demo(bank)
    clock = Clock()
    verifier = Verifier(bank, tmp_path / "outbox", clock=clock)
    seed_demo_logins(bank)
    return verifier, clock


def _mailed_code(tmp_path) -> tuple[str, str]:
    [path] = sorted((tmp_path / "outbox").glob("*.eml"))[-1:]
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    return str(mail["To"]), re.search(r"\d{6}", str(mail["Subject"])).group(0)


def test_a_code_mailed_to_the_address_on_file_verifies_one_conversation(tmp_path):
    verifier, clock = _verifier(tmp_path)
    verifier.start("chat-a", "C1001")
    to, code = _mailed_code(tmp_path)
    assert "ada@example.com" in to
    assert not verifier.is_verified("chat-a", "C1001")
    assert verifier.check("chat-a", "C1001", code) == (Outcome.VERIFIED, MAX_FAILURES)
    assert verifier.is_verified("chat-a", "C1001") and not verifier.is_verified("chat-b", "C1001")
    assert verifier.check("chat-a", "C1001", code)[0] is Outcome.WRONG  # a code works once
    clock.now += timedelta(minutes=IDLE_MINUTES - 1)
    assert verifier.is_verified("chat-a", "C1001")  # in use: kept alive
    clock.now += timedelta(minutes=IDLE_MINUTES + 1)
    assert not verifier.is_verified("chat-a", "C1001")  # idle too long: lapsed


def test_unknown_numbers_and_wrong_codes_are_alike_and_lock_after_three(tmp_path):
    verifier, _ = _verifier(tmp_path)
    verifier.start("chat-a", "C9999")
    assert not list((tmp_path / "outbox").glob("*.eml"))  # nobody to mail
    verifier.start("chat-b", "C1001")
    _, code = _mailed_code(tmp_path)
    outcomes = [(verifier.check("chat-a", "C9999", "123456"), verifier.check("chat-b", "C1001", "123456"))
                for _ in range(MAX_FAILURES)]
    assert all(a == b for a, b in outcomes)
    assert [a for a, _ in outcomes] == [(Outcome.WRONG, 2), (Outcome.WRONG, 1), (Outcome.LOCKED, 0)]
    assert verifier.check("chat-b", "C1001", code)[0] is Outcome.LOCKED and verifier.is_locked("chat-b", "C1001")


def test_an_expired_code_is_refused(tmp_path):
    verifier, clock = _verifier(tmp_path)
    verifier.start("chat-a", "C1002")
    _, code = _mailed_code(tmp_path)
    clock.now += timedelta(minutes=11)
    assert verifier.check("chat-a", "C1002", code)[0] is Outcome.WRONG


def test_demo_sign_in(tmp_path):
    verifier, _ = _verifier(tmp_path)
    assert verifier.sign_in("chat-a", "C1001", "nope") is Outcome.WRONG
    assert verifier.sign_in("chat-a", "C1001", "harbor-ada") is Outcome.VERIFIED
    assert verifier.signed_in("chat-a") == "C1001" and verifier.is_verified("chat-a", "C1001")
    assert verifier.sign_in("chat-b", "C1002", "harbor-ada") is Outcome.WRONG  # Ada's password is not Alan's


def test_codes_are_read_from_what_people_type():
    assert parse_code("it's 482913") == "482913" and parse_code("482 913") == "482913"
    assert parse_code("4829") is None and parse_code("C1001") is None
