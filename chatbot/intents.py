"""The chatbot's intent classifier as the suite trains it: BANKING77's 77 banking intents plus
the bot's own (greet, goodbye, thanks, affirm, deny, stop, bot_challenge, out_of_scope,
unsupported_banking, request_human, freeze_card, unfreeze_card), in one model. The two decline
intents learn from the tune half of ``data/chatbot/unknown_requests.csv`` besides the template's
examples: a richer out-of-scope class declined 96 % of unseen unknown requests where a confidence
threshold alone declined 45-90 % at a cost of up to 8 points of accuracy (bench/results/live.json).

`nlpsuite run` fine-tunes it from this declaration (``INTENT_CLASSIFIER``); `nlpsuite chatbot
train` fine-tunes on the generated Rasa project, whose NLU data is the same two sources, so both
ways give the same label set. The test part is BANKING77's test split plus
``data/chatbot/own_intents_test.csv``: other phrasings of the bot's own intents, never trained on.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from chatbot.banking77 import BANKING77, load_banking77
from shared.data import DataError, LabelledTexts, load_labelled, noisy_copy
from shared.product import ClassifierSpec
from shared.training.args import FineTuneArgs

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent
OWN_NLU = PACKAGE / "template" / "data" / "core_nlu.yml"
OWN_TEST = REPO / "data" / "chatbot" / "own_intents_test.csv"
UNKNOWN_REQUESTS = REPO / "data" / "chatbot" / "unknown_requests.csv"
"""Requests the bot must decline, composed for this project (not from a public set): realistic
banking requests it cannot serve (balance, loans, mortgages, ...) and out-of-domain messages."""
DECLINE_INTENTS = {"banking_unknown": "unsupported_banking", "out_of_domain": "out_of_scope"}
"""The intent each kind of unknown request trains: a can't-do-that reply with the offer of a person."""
HALVES = ("tune", "test")
TEACH_MEMORY = {intent: 128 for intent in DECLINE_INTENTS.values()}
"""Examples the decline intents keep in a taught version's bank (shared.teaching): they cover a whole
world of requests, and a new intent must not pull in what they declined (bench.live)."""

# Misspelt copies of 30% of the training texts: on the quick profile this kept clean accuracy
# and gained on misspelt validation texts (docs/chatbot.md, "Typos").
TYPO_SHARE = 0.3
# ... and unknown words corrected against the training vocabulary where the model serves:
# with both, one typo per BANKING77 test message costs about 2 points instead of 4.7.
TYPOS = {"typo_augmentation": TYPO_SHARE, "spelling_correction": True}
# Unknown requests are declined by their own intents, not by the threshold, so a low-confidence
# message is mostly a banking question put oddly: answering it right helps more than a wrong
# answer hurts (the customer rephrases either way). On validation data this threshold keeps
# BANKING77 accuracy through the bot at 0.92+ (bench/results/live.json).
DECIDING = {**TYPOS, "wrong_cost": 0.5}
# The bot's own intents have 30-100 examples against BANKING77's ~130 per intent; this many
# extra misspelt copies of each (seeded, distinct texts) bring them level, so two quick epochs
# learn "stop" and "goodbye" as well as the banking intents.
OWN_COPIES = 3
# What a first `nlpsuite run` serves within minutes: frozen int8 MiniLM features and a logistic
# head (bench.recipe: the probe scores about as high as a full fine-tune on BANKING77).
FIRST = FineTuneArgs(recipe="probe", max_length=48, **DECIDING)
# What replaces it live: the recipe that won on validation data (bench/results/recipe.json, task
# "intents"). LP-FT: the probe's head starts a gentle fine-tune of every weight; the profiles
# differ only in how long they train and how much of a message they read.
LP_FT = FineTuneArgs(recipe="lp-ft", learning_rate=2e-5, head_learning_rate=2e-4, batch_size=32, keep_best=False,
                     **DECIDING)
PROFILES = {
    "quick": replace(LP_FT, epochs=2, max_length=48),
    "full": replace(LP_FT, epochs=3, max_length=64),
}
# The Rasa component's training defaults where they differ from FineTuneArgs' (`rasa train` on a
# project's own few examples per intent: a higher learning rate; no progress bars in its log).
COMPONENT_DEFAULTS = {"learning_rate": 1e-4, "progress": False}


def own_examples(path: Path = OWN_NLU) -> dict[str, list[str]]:
    """The bot's own intents and their examples, read from the Rasa template's NLU file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read the bot's NLU examples: {exc}", path) from None
    out: dict[str, list[str]] = {}
    for item in document.get("nlu", []):
        lines = str(item.get("examples", "")).splitlines()
        out[item["intent"]] = [line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")]
    return out


def unknown_requests(half: str, path: Path = UNKNOWN_REQUESTS) -> LabelledTexts:
    """One half of the unknown requests, labelled by kind (banking_unknown, out_of_domain).

    Why halves: the ``tune`` half trains the decline intents and picks thresholds; the ``test``
    half is only ever measured (bench.live). Within each kind and topic the rows are ordered by
    a hash of their text and dealt alternately, so the split is fixed, balanced by topic and
    unchanged when rows are added elsewhere.
    """
    import csv
    import hashlib

    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, not {half!r}")
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    except OSError as exc:
        raise DataError(f"cannot read the unknown requests: {exc}", path) from None
    groups: dict[tuple, list[dict]] = {}
    for line, row in enumerate(rows, start=2):
        if row.get("kind") not in DECLINE_INTENTS or not (row.get("text") or "").strip():
            raise DataError(f"kind must be one of {sorted(DECLINE_INTENTS)} and text non-empty", path, line, "kind")
        groups.setdefault((row["kind"], row.get("topic") or ""), []).append(row)
    chosen = []
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda r: hashlib.sha1(r["text"].encode("utf-8")).hexdigest())
        chosen += ordered[HALVES.index(half)::2]
    return LabelledTexts([r["text"].strip() for r in chosen], [r["kind"] for r in chosen], f"{path} ({half} half)")


def decline_examples() -> LabelledTexts:
    """The tune half as training examples of the decline intents."""
    tune = unknown_requests("tune")
    return LabelledTexts(tune.texts, [DECLINE_INTENTS[kind] for kind in tune.labels], tune.source)


def own_intents() -> tuple[str, ...]:
    """The bot's own intents: the template's and the decline intents."""
    return tuple(dict.fromkeys([*own_examples(), *DECLINE_INTENTS.values()]))


def _joined(*parts: LabelledTexts, source: str) -> LabelledTexts:
    return LabelledTexts([t for p in parts for t in p.texts], [y for p in parts for y in p.labels], source)


def _taught() -> LabelledTexts:
    """Intents taught to the running bot (chatbot.teach): they join every full training."""
    from chatbot.settings import load_settings
    from chatbot.teach import taught_training_examples

    return taught_training_examples(load_settings().taught_store)


def load_intent_data(banking77_dir: Path = BANKING77) -> dict[str, LabelledTexts]:
    """{"train", "test"}: BANKING77 plus the bot's own intents (see the module docstring)."""
    banking = load_banking77(banking77_dir)
    own = own_examples()
    declines = decline_examples()
    own_train = LabelledTexts([t for texts in own.values() for t in texts] + declines.texts,
                              [intent for intent, texts in own.items() for _ in texts] + declines.labels,
                              str(OWN_NLU))
    copies = [noisy_copy(own_train, seed=seed, rate=0.2) for seed in range(1, OWN_COPIES + 1)]
    own_train = _joined(own_train, *copies, _taught(), source=str(OWN_NLU))
    return {"train": _joined(banking["train"], own_train, source=f"{banking77_dir} + {OWN_NLU.name}"),
            "test": _joined(banking["test"], load_labelled(OWN_TEST, text_col="text", label_col="intent"), source=f"{banking77_dir} test + {OWN_TEST.name}")}


def keep_taught(versions, version):
    """The intents taught while ``version`` trained, taught onto it too (else its swap would drop them)."""
    from chatbot.settings import load_settings
    from chatbot.teach import TaughtStore
    from shared.teaching import teach
    from shared.model_dir import ModelInfo

    store = load_settings().taught_store
    taught = TaughtStore(store).load() if store else {}
    missing = {n: t.examples for n, t in taught.items() if n not in ModelInfo.load(version.folder).labels}
    if not missing:
        return version
    return teach(versions, missing, base=version, training=load_intent_data()["train"], memory_per_label=TEACH_MEMORY,
                 note=f"{version.info.note}, with taught {', '.join(sorted(missing))}")


INTENT_CLASSIFIER = ClassifierSpec(
    name="intents",
    title="intent model (BANKING77 + the bot's own intents)",
    load_data=load_intent_data,
    profiles=PROFILES,
    expected_minutes={"quick": 7, "full": 11},
    first=FIRST,
    first_minutes=1.5,
    carry_over=keep_taught,
    demo_texts=("I still have not received my new card", "How do I top up with Apple Pay?", "hello there",
                "can I talk to a real person?"),
)
