"""A product's embedded SQLite database as `nlpsuite migrate` sees it (``SuitePart.databases``).

The app copies an embedded suite's data into the PostgreSQL database of ``suite.backend:
postgres`` without importing any product: each product names its SQLite files and the SQLAlchemy
tables they hold, and the app copies those tables. The tables are given as a callable so that a
command which only lists the files does not pay for importing them (Rasa's take seconds).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import MetaData


@dataclass(frozen=True)
class Database:
    """One SQLite file of the embedded suite and the tables to copy from it."""

    label: str
    """What the summary and the errors call it ("chatbot bank")."""
    path: Path
    """The SQLite file under the suite's ``var/`` (a missing file is skipped and reported)."""
    metadata: Callable[[], MetaData]
    """The tables as the product's own code declares them: the copy reads and writes through them,
    so booleans and datetimes convert, and the target gets the same schema the product creates."""
    skip: tuple[str, ...] = ()
    """Tables of ``metadata`` not to copy: state the product rebuilds by itself (a scheduler's job, a lock)."""
