"""The bank's customer database the chatbot's actions work on (SQLite by default).

A real SQL database through SQLAlchemy, created and filled with a few demo customers by the
project (`nlpsuite chatbot init-db`), so card status, card freezing, transfer look-ups and
handoff tickets are real reads and writes, not canned answers.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import Column, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Session, declarative_base, relationship, sessionmaker

from shared.sqlite import create_tables

Base = declarative_base()

CUSTOMER_ID = re.compile(r"\b[Cc]\s?-?\s?(\d{4})\b")
LAST4 = re.compile(r"(?<!\d)(\d{4})(?!\d)")


class Customer(Base):
    """A bank customer, keyed by the customer number the bot asks for ("C1001"); the actions show its cards
    and transfers only to a conversation that proved it is this customer (chatbot.verification)."""

    __tablename__ = "customers"
    id = Column(String(8), primary_key=True)  # "C1001"
    name = Column(String(100), nullable=False)
    email = Column(String(200), nullable=False)
    cards = relationship("Card", back_populates="customer", order_by="Card.id")
    transfers = relationship("Transfer", back_populates="customer", order_by="Transfer.created.desc()")


class Card(Base):
    """A customer's card. ``last4`` is how the customer names it in the chat (card_control_form's card_last4);
    ``status`` is what action_card_delivery_status reports and action_card_control sets (frozen or active)."""

    __tablename__ = "cards"
    id = Column(Integer, primary_key=True)
    customer_id = Column(String(8), ForeignKey("customers.id"), nullable=False)
    last4 = Column(String(4), nullable=False)
    kind = Column(String(20), nullable=False)  # physical | virtual
    status = Column(String(20), nullable=False)  # ordered | in_delivery | active | frozen
    dispatched = Column(Date)
    expected_delivery = Column(Date)
    customer = relationship("Customer", back_populates="cards")


class Transfer(Base):
    """A customer's transfer: action_transfer_status shows the three newest, with ``reason`` for one that
    is not completed."""

    __tablename__ = "transfers"
    id = Column(String(12), primary_key=True)  # "TR-5001"
    customer_id = Column(String(8), ForeignKey("customers.id"), nullable=False)
    recipient = Column(String(100), nullable=False)
    amount = Column(Float, nullable=False)
    currency = Column(String(3), nullable=False)
    status = Column(String(20), nullable=False)  # pending | completed | failed
    created = Column(DateTime, nullable=False)
    reason = Column(String(200))
    customer = relationship("Customer", back_populates="transfers")


class Ticket(Base):
    """A conversation handed over to a person."""

    __tablename__ = "tickets"
    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(255), nullable=False)
    customer_id = Column(String(8))
    summary = Column(Text, nullable=False)
    status = Column(String(20), nullable=False, default="open")
    created = Column(DateTime, nullable=False)

    @property
    def reference(self) -> str:
        return f"T-{self.id:05d}"


def engine_for(url: str):
    """The bank's engine: on SQLite with WAL and a busy timeout (shared.sqlite)."""
    from shared.sqlite import engine

    return engine(url)


class Bank:
    """The queries the actions need, one short session each."""

    def __init__(self, url: str):
        self.url = url
        self.engine = engine_for(url)
        self._sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)
        create_tables(Base.metadata, self.engine)

    def session(self) -> Session:
        return self._sessions()

    def customer(self, customer_id: str) -> Optional[Customer]:
        with self.session() as s:
            customer = s.get(Customer, customer_id)
            if customer is not None:
                _ = list(customer.cards), list(customer.transfers)  # load before the session closes
            return customer

    def set_card_status(self, customer_id: str, last4: str, status: str) -> Optional[Card]:
        with self.session() as s, s.begin():
            card = s.query(Card).filter_by(customer_id=customer_id, last4=last4).one_or_none()
            if card is not None:
                card.status = status
            return card

    def open_ticket(self, sender_id: str, customer_id: Optional[str], summary: str) -> Ticket:
        with self.session() as s, s.begin():
            ticket = Ticket(sender_id=sender_id, customer_id=customer_id, summary=summary,
                            status="open", created=datetime.now(timezone.utc).replace(tzinfo=None))
            s.add(ticket)
            s.flush()
            return ticket

    def tickets(self) -> list[Ticket]:
        with self.session() as s:
            return list(s.query(Ticket).order_by(Ticket.id))

    def is_empty(self) -> bool:
        with self.session() as s:
            return s.query(Customer).count() == 0


def seed_demo(bank: Bank, today: Optional[date] = None) -> int:
    """Three demo customers with cards in every state and transfers in every status.
    Dates are relative to ``today`` so "arrives in 2 days" stays true. Returns rows added."""
    if not bank.is_empty():
        return 0
    today = today or date.today()
    now = datetime.combine(today, datetime.min.time())
    rows = [
        Customer(id="C1001", name="Ada Lovelace", email="ada@example.com"),
        Customer(id="C1002", name="Alan Turing", email="alan@example.com"),
        Customer(id="C1003", name="Grace Hopper", email="grace@example.com"),
        Card(customer_id="C1001", last4="4242", kind="physical", status="active"),
        Card(customer_id="C1001", last4="1234", kind="physical", status="in_delivery",
             dispatched=today - timedelta(days=2), expected_delivery=today + timedelta(days=2)),
        Card(customer_id="C1002", last4="9876", kind="physical", status="frozen"),
        Card(customer_id="C1002", last4="5555", kind="virtual", status="active"),
        Card(customer_id="C1003", last4="3141", kind="physical", status="ordered"),
        Transfer(id="TR-5001", customer_id="C1001", recipient="Charles Babbage", amount=120, currency="GBP",
                 status="completed", created=now - timedelta(days=3)),
        Transfer(id="TR-5002", customer_id="C1001", recipient="Mary Somerville", amount=450, currency="EUR",
                 status="pending", created=now - timedelta(hours=20), reason="security check"),
        Transfer(id="TR-5003", customer_id="C1002", recipient="Max Newman", amount=75, currency="GBP",
                 status="failed", created=now - timedelta(days=1), reason="invalid account number"),
    ]
    with bank.session() as s, s.begin():
        s.add_all(rows)
    return len(rows)


def parse_customer_id(text: str) -> Optional[str]:
    """'C1001', 'c-1001', 'my number is C 1001' -> 'C1001'."""
    match = CUSTOMER_ID.search(text or "")
    return f"C{match.group(1)}" if match else None


def parse_last4(text: str) -> Optional[str]:
    """The first run of exactly four digits in a message ("it ends in 1234" -> '1234'), else None: the card
    the customer means, for card_control_form."""
    match = LAST4.search(text or "")
    return match.group(1) if match else None
