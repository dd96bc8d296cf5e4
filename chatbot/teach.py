"""Teaching the running bot a new intent in seconds, and taking it out again.

`nlpsuite chatbot teach --intent NAME --examples FILE --answer TEXT` (or the operator page):

1. checks the request: a new snake_case name, at least ``MIN_EXAMPLES`` distinct examples (one
   per line), a non-empty answer; anything wrong stops with the file and line, and changes nothing;
2. records it in the taught store (``chatbot.taught_store``, a JSON file replaced atomically):
   the store is what survives a restart, joins the next full training (``chatbot.intents``) and
   gives the answer;
3. makes a new version of the served intent model that knows it (``shared.teaching``: the trained
   head as it was, and the taught examples among a memory of training examples, so that a message
   whose nearest examples are taught ones gets the new intent) and switches the versions folder's
   pointer: `rasa run` swaps the new version in within seconds, no restart,
   no `rasa train` (Rasa's domain has one intent for all taught ones, ``taught_intent``; the
   classifier component maps each taught label to it and passes the answer along).

``--remove`` does the reverse, model first, then the store. Until Rasa has swapped the new
version in, the classifier component sends a label the model was taught but the store no longer
has to the fallback, never to Rasa as an unknown intent. One teach or removal at a time per
versions folder (a lock file), from the CLI and the web page alike; a teach that fails puts the
store back as it was.
"""
from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from shared.atomic import write_text_atomically
from shared.data import DataError

MIN_EXAMPLES = 5
MAX_EXAMPLES = 200
MAX_TEXT = 2000
"""Longest example or answer, in characters (the REST channel's message limit)."""
NAME = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
TAUGHT_INTENT = "taught_intent"
"""The one intent Rasa's domain has for every taught intent (rules: answer it, also in a form)."""
DEFAULT_STORE = "var/chatbot/taught.json"


@dataclass
class TaughtIntent:
    """One taught intent as the taught store keeps it: its examples, the answer the bot gives, and when
    it was taught (ISO 8601, UTC)."""

    name: str
    examples: list
    answer: str
    taught_at: str = ""


class TaughtStore:
    """The taught intents, in one JSON file written whole and renamed into place."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def load(self) -> dict[str, TaughtIntent]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {name: TaughtIntent(name, list(v["examples"]), str(v["answer"]), v.get("taught_at", ""))
                    for name, v in data.get("intents", {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"not a taught-intents file ({exc})", self.path) from None

    def save(self, intents: dict[str, TaughtIntent]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"intents": {n: {"examples": t.examples, "answer": t.answer, "taught_at": t.taught_at}
                            for n, t in sorted(intents.items())}}
        write_text_atomically(self.path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_examples(path: str | Path) -> list[str]:
    """One example per line (blank lines skipped); undecodable bytes stop with file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError("examples file not found", path)
    examples = []
    for line, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise DataError("not UTF-8 text", path, line) from None
        if text and text not in examples:
            examples.append(text)
    return examples


def check_request(name: str, examples: list[str], answer: str, known: set, source: Optional[Path] = None) -> None:
    """Stop a request that would teach nothing useful, naming what is wrong."""
    if not NAME.match(name or ""):
        raise DataError(f"intent name {name!r}: use 3-64 lowercase letters, digits and '_', starting with a letter",
                        field="intent")
    if name in known:
        raise DataError(f"intent {name!r} exists already; choose another name or --remove it first", field="intent")
    if len(examples) < MIN_EXAMPLES:
        raise DataError(f"{len(examples)} distinct example(s); at least {MIN_EXAMPLES} are needed", source,
                        field="examples")
    if len(examples) > MAX_EXAMPLES:
        raise DataError(f"{len(examples)} examples; at most {MAX_EXAMPLES}", source, field="examples")
    long = next((e for e in examples if len(e) > MAX_TEXT), None)
    if long is not None:
        raise DataError(f"an example is over {MAX_TEXT} characters: {long[:40]!r}...", source, field="examples")
    if not (answer or "").strip():
        raise DataError("the answer is empty", field="answer")
    if len(answer) > MAX_TEXT:
        raise DataError(f"the answer is over {MAX_TEXT} characters", field="answer")


@contextlib.contextmanager
def _one_at_a_time(versions_root: str | Path):
    """Hold the versions folder's teach lock: two teaches (CLI and web page) never interleave."""
    import fcntl

    root = Path(versions_root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".teach.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _served(versions_root):
    from shared.model_versions import ModelVersions

    versions = ModelVersions(versions_root)
    if versions.current() is None:
        raise DataError("no served intent model to teach (start the suite with `nlpsuite run` first)",
                        Path(versions_root))
    return versions


def teach_intent(store: TaughtStore, versions_root: str | Path, name: str, examples: list[str], answer: str, *,
                 training=None, threads: Optional[int] = None, source: Optional[Path] = None) -> dict:
    """Teach ``name``; what was done (the new version, seconds). Nothing changes when it fails."""
    from chatbot.intents import TEACH_MEMORY
    from shared.model_dir import ModelInfo
    from shared.teaching import teach

    started = time.perf_counter()
    with _one_at_a_time(versions_root):
        versions = _served(versions_root)
        intents = store.load()
        check_request(name, examples, answer, set(ModelInfo.load(versions.current().folder).labels) | set(intents)
                      | {TAUGHT_INTENT, "nlu_fallback", "inform"}, source)
        before = dict(intents)
        intents[name] = TaughtIntent(name, examples, answer.strip(),
                                     datetime.now(timezone.utc).isoformat(timespec="seconds"))
        store.save(intents)  # the answer exists before the model can predict the label
        try:
            version = teach(versions, {name: examples}, training=training, threads=threads, note=f"taught {name}",
                            memory_per_label=TEACH_MEMORY)
            versions.switch(version.id)
        except BaseException:
            store.save(before)
            raise
        versions.prune(keep=5)
    return {"intent": name, "examples": len(examples), "version": version.id,
            "seconds": round(time.perf_counter() - started, 2)}


def remove_intent(store: TaughtStore, versions_root: str | Path, name: str, *, training=None,
                  threads: Optional[int] = None) -> dict:
    """Take a taught intent out of the served model, then out of the store (``training``: for a
    version that has learned it in a full training and has no example memory yet)."""
    from chatbot.intents import TEACH_MEMORY
    from shared.model_dir import ModelInfo
    from shared.teaching import teach

    with _one_at_a_time(versions_root):
        intents = store.load()
        if name not in intents:
            raise DataError(f"{name!r} is not a taught intent (taught: {', '.join(sorted(intents)) or 'none'})",
                            store.path, field="intent")
        versions = _served(versions_root)
        result = {"intent": name, "removed": True}
        if name in ModelInfo.load(versions.current().folder).labels:
            version = teach(versions, {}, remove=[name], training=training, threads=threads, note=f"removed {name}",
                            memory_per_label=TEACH_MEMORY)
            versions.switch(version.id)
            result["version"] = version.id
        del intents[name]
        store.save(intents)
    return result


def taught_training_examples(path: Optional[str | Path]):
    """The taught intents as labelled texts for the next full training (empty without a store)."""
    from shared.data import LabelledTexts

    intents = TaughtStore(path).load() if path else {}
    return LabelledTexts([t for i in intents.values() for t in i.examples],
                         [i.name for i in intents.values() for _ in i.examples], str(path))
