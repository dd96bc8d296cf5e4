"""The catalogue and the interaction log (SQLAlchemy Core): SQLite inside the model folder, or
PostgreSQL (``suite.backend: postgres``) shared by web servers on several machines.

``POST /interactions`` must survive a restart, and an interaction about an unknown item must
leave nothing behind: each write is one transaction, checked before it commits. Readers follow
the log by its sequence number, so writers on a server take a table lock: sequence numbers are
then committed in order, and no reader can skip a row committed late.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)

from recommender.data import Interaction, Item
from shared.errors import NlpSuiteError
from shared.sqlite import create_tables, engine as sqlite_engine

STORE_FILE = "store.sqlite"

metadata = MetaData()
items_table = Table(
    "items", metadata,
    Column("id", String, primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("tags", Text, nullable=False, default=""),
    Column("removed", Boolean, nullable=False, default=False),
)
interactions_table = Table(
    "interactions", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("user", String, nullable=False, index=True),
    Column("item", String, nullable=False),
    Column("event", String, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("rating", Float, nullable=True),
)


class UnknownItemError(NlpSuiteError, LookupError):
    """An interaction names an item that is not in the catalogue."""


class Store:
    """A recommender folder's SQLite store: the catalogue and the whole interaction log. Every web
    worker appends here and reads the others' rows back in log order (``interactions_since``)."""

    def __init__(self, path: str | Path):
        """``path``: a SQLite file, or a database server's SQLAlchemy URL (``postgresql://...``)."""
        self.on_server = isinstance(path, str) and "://" in path and not path.startswith("sqlite")
        self.path = None if self.on_server else Path(str(path).removeprefix("sqlite:///"))
        self.url = path if self.on_server else f"sqlite:///{self.path}"
        self.engine = sqlite_engine(self.url)  # SQLite: WAL, readers while the API writes
        create_tables(metadata, self.engine)

    def adopt(self, source: "Store") -> int:
        """Fill an empty store (a server's, on first use) with ``source``'s catalogue and log, in
        one transaction that other web servers wait for; returns the rows copied (0 when this
        store already had a catalogue)."""
        from sqlalchemy import func, text

        with self.engine.begin() as conn:
            if self.on_server:
                conn.execute(text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
            if conn.execute(select(func.count()).select_from(items_table)).scalar_one():
                return 0
            with source.engine.connect() as old:
                items = [dict(row._mapping) for row in old.execute(select(items_table))]
                rows = [{k: v for k, v in row._mapping.items() if k != "seq"}
                        for row in old.execute(select(interactions_table).order_by(interactions_table.c.seq))]
            if items:
                conn.execute(items_table.insert(), items)
            if rows:
                conn.execute(interactions_table.insert(), rows)
        return len(items) + len(rows)

    def add_items(self, items: Iterable[Item]) -> None:
        rows = [{"id": i.id, "title": i.title, "description": i.description, "tags": "|".join(i.tags),
                 "removed": False} for i in items]
        if not rows:
            return
        with self.engine.begin() as conn:
            ids = [r["id"] for r in rows]
            conn.execute(items_table.delete().where(items_table.c.id.in_(ids)))
            conn.execute(items_table.insert(), rows)

    def remove_items(self, ids: Iterable[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(items_table).where(items_table.c.id.in_(list(ids))).values(removed=True))

    def items(self) -> list[Item]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(items_table).where(items_table.c.removed.is_(False))
                                .order_by(items_table.c.id)).all()
        return [Item(r.id, r.title, r.description, tuple(t for t in r.tags.split("|") if t)) for r in rows]

    def add_interactions(self, rows: Iterable[Interaction], *, check_items: bool = True) -> int:
        """Append rows in one transaction; with ``check_items`` an unknown item aborts it all."""
        values = [r.to_dict() for r in rows]
        if not values:
            return 0
        with self.engine.begin() as conn:
            if check_items:
                wanted = {v["item"] for v in values}
                found = set(conn.execute(select(items_table.c.id).where(
                    items_table.c.id.in_(wanted), items_table.c.removed.is_(False))).scalars())
                missing = sorted(wanted - found)
                if missing:
                    raise UnknownItemError(f"unknown item(s): {', '.join(missing[:10])}")
            if self.on_server:  # sequence numbers committed in order (see the module docstring)
                from sqlalchemy import text

                conn.execute(text("LOCK TABLE interactions IN SHARE ROW EXCLUSIVE MODE"))
            conn.execute(interactions_table.insert(), values)
        return len(values)

    def last_seq(self) -> int:
        """The sequence number of the newest interaction (0 for an empty log)."""
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(interactions_table.c.seq), 0))).scalar_one())

    def interactions_since(self, seq: int) -> tuple[list[Interaction], int]:
        """Rows written after ``seq`` (by any process), and the newest sequence number."""
        query = select(interactions_table).where(interactions_table.c.seq > seq).order_by(interactions_table.c.seq)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        newest = rows[-1].seq if rows else seq
        return [Interaction(r.user, r.item, r.event, r.timestamp, r.rating) for r in rows], int(newest)

    def signature(self) -> tuple:
        """Changes whenever any process commits to the file (size and mtime of the database
        and its write-ahead log): a stat, so every request can afford to ask. On a server: the
        newest sequence number (one indexed query)."""
        if self.on_server:
            return (self.last_seq(),)
        out = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                stat = path.stat()
                out.append((stat.st_mtime_ns, stat.st_size))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    def interactions(self, user: str | None = None) -> list[Interaction]:
        query = select(interactions_table).order_by(interactions_table.c.seq)
        if user is not None:
            query = query.where(interactions_table.c.user == user)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Interaction(r.user, r.item, r.event, r.timestamp, r.rating) for r in rows]

    def count_interactions(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(interactions_table)).scalar_one())

    def close(self) -> None:
        self.engine.dispose()
