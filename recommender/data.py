"""Item catalogues and interaction logs from CSV files, checked row by row.

A shop's export always has a few broken rows. Stopping at the first one would make the whole
catalogue unusable, so these loaders keep every good row and report each bad one as a
``DataError`` naming file, line and field (the core's format). Only a file that cannot be
read at all (missing, undecodable, no header, no good row) raises.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from shared.data import DataError

ITEM_COLUMNS = ("id", "title", "description", "tags")
INTERACTION_COLUMNS = ("user", "item", "event", "timestamp", "rating")
# Event types a log may hold; their weights live in profiles.py (ProfileConfig.event_weights).
EVENT_TYPES = ("view", "click", "comment", "share", "purchase", "rating")
MAX_TEXT_CHARS = 5000


@dataclass(frozen=True)
class Item:
    """A catalogue entry; ``text`` is what the encoders and the scorer read."""

    id: str
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """What the encoders read: title, description and tags in one short text."""
        parts = [self.title]
        if self.description:
            parts.append(self.description)
        if self.tags:
            parts.append(", ".join(self.tags))
        return ". ".join(parts)

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "description": self.description, "tags": list(self.tags)}


@dataclass(frozen=True)
class Interaction:
    """One row of the log: who did what to which item, and when (Unix seconds). ``rating``
    scales the event's weight (see recommender.profiles)."""

    user: str
    item: str
    event: str
    timestamp: float
    rating: float | None = None

    def to_dict(self) -> dict:
        return {"user": self.user, "item": self.item, "event": self.event,
                "timestamp": self.timestamp, "rating": self.rating}


@dataclass
class Loaded:
    """The good rows of a file, and one DataError per bad row."""

    rows: list
    errors: list[DataError] = field(default_factory=list)
    source: str = ""

    def summary(self) -> str:
        return f"{self.source}: {len(self.rows)} row(s) loaded, {len(self.errors)} rejected"


def _decode(path: Path, encoding: str = "utf-8") -> str:
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", path)
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(f"cannot decode byte 0x{data[e.start]:02x} as {encoding}", path, line) from None
    text = text[1:] if text.startswith("\ufeff") else text
    if not text.strip():
        raise DataError("empty file", path)
    return text


def _records(path: Path, required: Iterable[str], errors: list[DataError]) -> Iterator[tuple[int, dict]]:
    """(line, {column: value}) for each well-formed CSV record; bad records go to ``errors``."""
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    header: list[str] | None = None
    end = 0
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [h.strip().lower() for h in row]
                missing = [c for c in required if c not in header]
                if missing:
                    found = ", ".join(repr(h) for h in header)
                    raise DataError(f"missing column(s); found: {found}", path, start, ", ".join(missing))
                continue
            if len(row) != len(header):
                errors.append(DataError(f"row has {len(row)} field(s) but the header has {len(header)}",
                                        path, start))
                continue
            yield start, dict(zip(header, (cell.strip() for cell in row)))
    except csv.Error as e:
        errors.append(DataError(f"malformed CSV, the rest of the file is skipped: {e}", path, end + 1))
    if header is None:
        raise DataError("no header row", path)


def load_items(path: str | Path) -> Loaded:
    """Items from a CSV with columns id, title[, description, tags]; extra columns are ignored.

    Tags are separated by ``|`` or ``;``. A repeated id keeps its first row and reports the others.
    """
    path = Path(path)
    loaded = Loaded([], [], str(path))
    first_line: dict[str, int] = {}
    for line, record in _records(path, ("id", "title"), loaded.errors):
        item_id, title = record["id"], record["title"]
        if not item_id:
            loaded.errors.append(DataError("empty item id", path, line, "id"))
            continue
        if not title:
            loaded.errors.append(DataError("empty title", path, line, "title"))
            continue
        if item_id in first_line:
            loaded.errors.append(DataError(f"duplicate item id {item_id!r} (first on line {first_line[item_id]})",
                                           path, line, "id"))
            continue
        description = record.get("description", "")
        if len(title) + len(description) > MAX_TEXT_CHARS:
            loaded.errors.append(DataError(f"text longer than {MAX_TEXT_CHARS} characters", path, line, "description"))
            continue
        tags = tuple(t.strip() for t in record.get("tags", "").replace(";", "|").split("|") if t.strip())
        first_line[item_id] = line
        loaded.rows.append(Item(item_id, title, description, tags))
    if not loaded.rows:
        raise DataError(f"no valid item rows ({len(loaded.errors)} rejected)", path)
    return loaded


def parse_timestamp(value: str) -> float:
    """Unix seconds, or an ISO 8601 date/time (UTC when no offset is given)."""
    try:
        number = float(value)
    except ValueError:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def check_interaction(user: str, item: str, event: str, known_items, events=EVENT_TYPES) -> tuple[str, str] | None:
    """(field, reason) of the first problem with one interaction, or None when it is usable."""
    if not user:
        return "user", "empty user"
    if not item:
        return "item", "empty item"
    if known_items is not None and item not in known_items:
        return "item", f"unknown item {item!r} (not in the catalogue)"
    if event not in events:
        return "event", f"unknown event type {event!r}; known: {', '.join(events)}"
    return None


def load_interactions(path: str | Path, known_items=None, events=EVENT_TYPES) -> Loaded:
    """Interactions from a CSV with columns user, item, event, timestamp[, rating].

    ``known_items`` (a set of item ids) rejects rows about items the catalogue lacks.
    """
    path = Path(path)
    loaded = Loaded([], [], str(path))
    for line, record in _records(path, ("user", "item", "event", "timestamp"), loaded.errors):
        user, item, event = record["user"], record["item"], record["event"].lower()
        problem = check_interaction(user, item, event, known_items, events)
        if problem:
            loaded.errors.append(DataError(problem[1], path, line, problem[0]))
            continue
        try:
            timestamp = parse_timestamp(record["timestamp"])
        except ValueError:
            loaded.errors.append(DataError(f"not a timestamp: {record['timestamp']!r} (unix seconds or ISO 8601)",
                                           path, line, "timestamp"))
            continue
        rating = None
        if record.get("rating"):
            try:
                rating = float(record["rating"])
                if not math.isfinite(rating):
                    raise ValueError
            except ValueError:
                loaded.errors.append(DataError(f"not a number: {record['rating']!r}", path, line, "rating"))
                continue
        loaded.rows.append(Interaction(user, item, event, timestamp, rating))
    if not loaded.rows:
        raise DataError(f"no valid interaction rows ({len(loaded.errors)} rejected)", path)
    return loaded


def write_items_csv(path: str | Path, items: Iterable[Item]) -> Path:
    """The item CSV ``load_items`` reads back (tags joined by ``|``): how demo data reaches ``fit``."""
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ITEM_COLUMNS)
        for item in items:
            writer.writerow([item.id, item.title, item.description, "|".join(item.tags)])
    return path


def write_interactions_csv(path: str | Path, interactions: Iterable[Interaction]) -> Path:
    """The interaction CSV ``load_interactions`` reads back."""
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(INTERACTION_COLUMNS)
        for row in interactions:
            writer.writerow([row.user, row.item, row.event, repr(row.timestamp) if row.timestamp % 1 else int(row.timestamp),
                             "" if row.rating is None else row.rating])
    return path
