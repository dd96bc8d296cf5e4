"""Who is this? The bot shows or changes a customer's data only after the conversation has
proved it is that customer, the way a bank's app does.

Two ways to prove it: a one-time code mailed to the address on file (over the REST channel; in
the suite the mail lands in the local outbox), or a demo customer's sign-in on the chat page.
Either way the proof belongs to one conversation (its sender id) and one customer, and lapses
after ``IDLE_MINUTES`` without use. An unknown customer number and a wrong code get the same
answers, so customer numbers cannot be enumerated; after ``MAX_FAILURES`` wrong codes (or
passwords) the conversation is locked for that customer. Rows live in the bank's database.
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Callable, Optional

from sqlalchemy import Boolean, Column, DateTime, Integer, String

from chatbot.bank import Bank, Base
from shared.sqlite import create_tables

CODE_DIGITS, CODE_MINUTES, IDLE_MINUTES, MAX_FAILURES = 6, 10, 15, 3


def utcnow() -> datetime:
    """The Verifier's default clock: naive UTC, the way the bank database's DateTime columns hold times."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Verification(Base):
    """One conversation's proof (or attempt at one) for one customer number."""

    __tablename__ = "verifications"
    sender_id = Column(String(255), primary_key=True)
    customer_id = Column(String(8), primary_key=True)
    code_hash = Column(String(64))
    """sha256 of the code mailed (None when the number is not a customer's: nothing was sent)."""
    code_expires = Column(DateTime)
    failures = Column(Integer, nullable=False, default=0)
    verified_until = Column(DateTime)
    locked = Column(Boolean, nullable=False, default=False)


class DemoLogin(Base):
    """A demo customer's chat-page password (PBKDF2), seeded with the demo bank."""

    __tablename__ = "demo_logins"
    customer_id = Column(String(8), primary_key=True)
    salt = Column(String(32), nullable=False)
    password_hash = Column(String(64), nullable=False)


DEMO_PASSWORDS = {"C1001": "harbor-ada", "C1002": "harbor-alan", "C1003": "harbor-grace"}
"""Shown on the chat page: these are demo customers."""


class Outcome(enum.Enum):
    """What a code check or a sign-in came to: VERIFIED, WRONG (tries left) or LOCKED (this conversation
    may no longer try for that customer number)."""

    VERIFIED = "verified"
    WRONG = "wrong"
    LOCKED = "locked"


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _password_hash(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 100_000).hex()


class Verifier:
    """Starts, checks and remembers verifications; mails codes into ``outbox`` (.eml files)."""

    def __init__(self, bank: Bank, outbox: str | Path, clock: Callable[[], datetime] = utcnow):
        self.bank, self.outbox, self.clock = bank, Path(outbox), clock
        create_tables(Base.metadata, bank.engine)  # this module's tables, in a bank made before it was imported

    def _row(self, session, sender: str, customer_id: str) -> Verification:
        row = session.get(Verification, (sender, customer_id))
        if row is None:
            row = Verification(sender_id=sender, customer_id=customer_id, failures=0, locked=False)
            session.add(row)
        return row

    def start(self, sender: str, customer_id: str) -> None:
        """Mail a new code to the customer's address on file (nothing when the number is not a
        customer's: the bot's answer is the same either way)."""
        customer = self.bank.customer(customer_id)
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        with self.bank.session() as s, s.begin():
            row = self._row(s, sender, customer_id)
            row.code_hash = _digest(code) if customer else None
            row.code_expires = self.clock() + timedelta(minutes=CODE_MINUTES)
        if customer:
            self._mail(customer.email, customer.name, code)

    def _mail(self, address: str, name: str, code: str) -> None:
        from shared.mailbox import store_eml

        message = EmailMessage()
        message["Subject"] = f"Your Harbor Bank chat code: {code}"
        message["From"] = "Harbor Bank <no-reply@harbor-bank.example>"
        message["To"] = f"{name} <{address}>"
        message.set_content(f"Hello {name},\n\nyour code for the chat with Harbor Bank's assistant is {code}. "
                            f"It is valid for {CODE_MINUTES} minutes.\nIf you did not ask for it, ignore "
                            "this mail: nobody can use your account without the code.\n")
        store_eml(self.outbox, message.as_bytes())

    def check(self, sender: str, customer_id: str, code: str) -> tuple[Outcome, int]:
        """The outcome and the tries left; a wrong code, an expired one and an unknown
        customer are the same WRONG (then LOCKED)."""
        now = self.clock()
        with self.bank.session() as s, s.begin():
            row = self._row(s, sender, customer_id)
            if row.locked:
                return Outcome.LOCKED, 0
            good = (row.code_hash is not None and row.code_expires is not None and now <= row.code_expires
                    and hmac.compare_digest(row.code_hash, _digest(code)))
            if good:
                row.code_hash, row.failures, row.verified_until = None, 0, now + timedelta(minutes=IDLE_MINUTES)
                return Outcome.VERIFIED, MAX_FAILURES
            row.failures += 1
            row.locked = row.failures >= MAX_FAILURES
            return (Outcome.LOCKED if row.locked else Outcome.WRONG), MAX_FAILURES - row.failures

    def sign_in(self, sender: str, customer_id: str, password: str) -> Outcome:
        """A demo customer's password on the chat page: verifies this conversation."""
        with self.bank.session() as s, s.begin():
            row = self._row(s, sender, customer_id)
            if row.locked:
                return Outcome.LOCKED
            login = s.get(DemoLogin, customer_id)
            if login and hmac.compare_digest(login.password_hash, _password_hash(password, login.salt)):
                row.failures, row.verified_until = 0, self.clock() + timedelta(minutes=IDLE_MINUTES)
                return Outcome.VERIFIED
            row.failures += 1
            row.locked = row.failures >= MAX_FAILURES
            return Outcome.LOCKED if row.locked else Outcome.WRONG

    def is_verified(self, sender: str, customer_id: Optional[str]) -> bool:
        """Whether this conversation proved it is ``customer_id`` and has not sat idle since;
        each use keeps it alive."""
        if not customer_id:
            return False
        now = self.clock()
        with self.bank.session() as s, s.begin():
            row = s.get(Verification, (sender, customer_id))
            if row is None or row.locked or row.verified_until is None or row.verified_until < now:
                return False
            row.verified_until = now + timedelta(minutes=IDLE_MINUTES)
            return True

    def is_locked(self, sender: str, customer_id: str) -> bool:
        with self.bank.session() as s:
            row = s.get(Verification, (sender, customer_id))
            return bool(row and row.locked)

    def signed_in(self, sender: str) -> Optional[str]:
        """The customer this conversation is verified as (the most recent), if any."""
        now = self.clock()
        with self.bank.session() as s:
            rows = s.query(Verification).filter(Verification.sender_id == sender,
                                                 Verification.verified_until >= now,
                                                 Verification.locked.is_(False)).all()
            return max(rows, key=lambda r: r.verified_until).customer_id if rows else None


def seed_demo_logins(bank: Bank) -> None:
    """The demo customers' chat-page passwords (``DEMO_PASSWORDS``), once."""
    with bank.session() as s, s.begin():
        for customer_id, password in DEMO_PASSWORDS.items():
            if s.get(DemoLogin, customer_id) is None:
                salt = secrets.token_hex(16)
                s.add(DemoLogin(customer_id=customer_id, salt=salt, password_hash=_password_hash(password, salt)))


def parse_code(text: str) -> Optional[str]:
    """The 6 digits of a code in a message ("it's 482 913" too), else None."""
    digits = "".join(ch for ch in (text or "") if ch.isdigit())
    return digits if len(digits) == CODE_DIGITS else None
