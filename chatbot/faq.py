"""The FAQ table (data/chatbot/faq.csv: intent, question, answer) and its embedding index.

Every intent the classifier knows has one reviewed answer here (the bot's `utter_faq_*`
responses). The same questions, embedded with the core's sentence encoder into a FAISS inner
product index, answer messages that fell below the intent threshold: the fallback action
returns the best match above a similarity threshold, else offers a person.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional



from shared.data import DataError

COLUMNS = ("intent", "question", "answer")
RETRIEVAL_ONLY = "general"  # rows answered only by the FAQ search, not tied to an intent
INDEX_FILE = "faq.faiss"
META_FILE = "faq.json"


@dataclass(frozen=True)
class FaqEntry:
    """One row of the FAQ table (``line``: where it is in the CSV). Rows whose intent is ``general``
    (RETRIEVAL_ONLY) are answered only by the FAQ search, never as an intent's response."""

    intent: str
    question: str
    answer: str
    line: int


def response_name(intent: str) -> str:
    """The domain response for an intent's answer; BANKING77 names hold '?' and capitals."""
    return "utter_faq_" + re.sub(r"\W+", "_", intent).strip("_").lower()


def load_faq(path: str | Path) -> list[FaqEntry]:
    """Read and check the FAQ table; a bad row stops with file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise DataError("FAQ file not found", path)
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DataError(f"missing column(s); found: {header}", path, 1, ", ".join(missing))
    index = {c: header.index(c) for c in COLUMNS}
    entries, seen, end = [], {}, reader.line_num
    for row in reader:
        line, end = end + 1, reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(f"row has {len(row)} fields, the header {len(header)}", path, line)
        values = {c: row[i].strip() for c, i in index.items()}
        for column in COLUMNS:
            if not values[column]:
                raise DataError(f"empty {column}", path, line, column)
        intent = values["intent"]
        if intent != RETRIEVAL_ONLY and intent in seen:
            raise DataError(f"intent {intent!r} already answered on line {seen[intent]}", path, line, "intent")
        seen[intent] = line
        entries.append(FaqEntry(intent, values["question"], values["answer"], line))
    if not entries:
        raise DataError("no FAQ rows", path)
    return entries


def answers_by_intent(entries: list[FaqEntry]) -> dict[str, str]:
    """Each intent's reviewed answer, which build_project makes its ``utter_faq_*`` response; the
    retrieval-only ``general`` rows are left out."""
    return {e.intent: e.answer for e in entries if e.intent != RETRIEVAL_ONLY}


@dataclass
class FaqMatch:
    """A FAQ search hit: the entry and its cosine similarity to the message (the fallback action answers
    with it only at or above ``chatbot.retrieval_threshold``)."""

    entry: FaqEntry
    score: float


class FaqIndex:
    """FAISS IndexFlatIP over unit-length question embeddings (inner product = cosine)."""

    def __init__(self, entries: list[FaqEntry], index, embedder):
        self.entries, self.index, self.embedder = entries, index, embedder

    @classmethod
    def build(cls, entries: list[FaqEntry], embedder) -> "FaqIndex":
        import faiss

        vectors = embedder.encode([e.question for e in entries])
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return cls(entries, index, embedder)

    def save(self, folder: str | Path) -> Path:
        """A new version of the index and its entries, switched in at once
        (``shared.atomic.publish_version``): the action server never reads one without the other."""
        import faiss

        from shared.atomic import publish_version

        meta = {"entries": [e.__dict__ for e in self.entries], "embedder": str(self.embedder.path)}

        def write(staging: Path) -> None:
            faiss.write_index(self.index, str(staging / INDEX_FILE))
            (staging / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

        publish_version(folder, write)
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path, embedder) -> "FaqIndex":
        import faiss

        from shared.atomic import current_version

        folder = current_version(folder)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        index = faiss.read_index(str(folder / INDEX_FILE))
        if index.d != embedder.dimension:
            raise ValueError(f"{folder}: index dimension {index.d} != embedder dimension {embedder.dimension}")
        return cls([FaqEntry(**e) for e in meta["entries"]], index, embedder)

    @classmethod
    def load_or_build(cls, folder: str | Path, faq_path: str | Path, embedder) -> "FaqIndex":
        """The saved index when it is newer than the FAQ table, else a fresh one (saved)."""
        from shared.atomic import current_version

        folder, faq_path = Path(folder), Path(faq_path)
        saved = current_version(folder) / INDEX_FILE
        if saved.is_file() and saved.stat().st_mtime >= faq_path.stat().st_mtime:
            return cls.load(folder, embedder)
        index = cls.build(load_faq(faq_path), embedder)
        index.save(folder)
        return index

    def search(self, text: str, k: int = 3) -> list[FaqMatch]:
        if not text or not text.strip():
            return []
        scores, ids = self.index.search(self.embedder.encode([text]), min(k, len(self.entries)))
        return [FaqMatch(self.entries[i], float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def best(self, text: str, threshold: float) -> Optional[FaqMatch]:
        matches = self.search(text, k=1)
        return matches[0] if matches and matches[0].score >= threshold else None


