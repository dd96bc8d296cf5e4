"""Low-confidence user messages from Rasa's SQL tracker store, as a CSV to label.

The loop: `nlpsuite chatbot export-uncertain --out review.csv` lists what the classifier was
unsure about (or sent to the fallback); a reviewer fills the `label` column with the right
intent; `nlpsuite chatbot build-data --labels review.csv` adds those rows to the NLU data of
the next training run (unlabelled rows are ignored).
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from sqlalchemy import create_engine, text as sql

FALLBACK = "nlu_fallback"
COLUMNS = ("text", "predicted_intent", "confidence", "fell_back", "sender_id", "time", "label")


@dataclass
class UncertainMessage:
    """One message to review: the classifier's own guess and confidence (past the fallback's override),
    whether it went to the fallback, and who sent it when (``timestamp``: Unix seconds)."""

    text: str
    predicted_intent: Optional[str]
    confidence: float
    fell_back: bool
    sender_id: str
    timestamp: float

    def row(self) -> list:
        when = datetime.fromtimestamp(self.timestamp, timezone.utc).isoformat(timespec="seconds")
        return [self.text, self.predicted_intent or "", f"{self.confidence:.4f}", int(self.fell_back),
                self.sender_id, when, ""]


def classifier_guess(parse_data: dict) -> tuple[Optional[str], float, bool]:
    """The classifier's own top intent and confidence, looking past the fallback's override."""
    intent = parse_data.get("intent") or {}
    ranking = [r for r in parse_data.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    fell_back = intent.get("name") == FALLBACK
    if ranking:
        return ranking[0].get("name"), float(ranking[0].get("confidence") or 0.0), fell_back
    if fell_back:
        return None, 0.0, True
    return intent.get("name"), float(intent.get("confidence") or 0.0), False


def uncertain_messages(tracker_url: str, below: float) -> list[UncertainMessage]:
    """User messages that fell back or whose confidence was under ``below``; one per text."""
    engine = create_engine(tracker_url, future=True)
    found: dict[str, UncertainMessage] = {}
    with engine.connect() as connection:
        rows = connection.execute(sql("SELECT sender_id, timestamp, data FROM events "
                                      "WHERE type_name = 'user' ORDER BY timestamp"))
        for sender_id, timestamp, data in rows:
            event = json.loads(data)
            message = (event.get("text") or "").strip()
            if not message or message.startswith("/"):  # button payloads bypass the classifier
                continue
            name, confidence, fell_back = classifier_guess(event.get("parse_data") or {})
            if (fell_back or confidence < below) and message not in found:
                found[message] = UncertainMessage(message, name, confidence, fell_back, sender_id,
                                                  float(timestamp or 0))
    engine.dispose()
    return list(found.values())


def write_csv(messages: list[UncertainMessage], out: str | Path) -> Path:
    """Write the review CSV (``COLUMNS``, least confident first, ``label`` left empty for the reviewer),
    creating its folder; `build-data --labels` reads it back. Returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(m.row() for m in sorted(messages, key=lambda m: m.confidence))
    return out
