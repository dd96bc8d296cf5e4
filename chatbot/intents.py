"""The chatbot's intent classifier as the suite trains it: BANKING77's 77 banking intents plus
the bot's own (greet, goodbye, thanks, affirm, deny, stop, bot_challenge, out_of_scope,
request_human, freeze_card, unfreeze_card), in one model.

`nlpsuite run` fine-tunes it from this declaration (``INTENT_CLASSIFIER``); `nlpsuite chatbot
train` fine-tunes on the generated Rasa project, whose NLU data is the same two sources, so both
ways give the same label set. The test part is BANKING77's test split plus
``data/chatbot/own_intents_test.csv``: other phrasings of the bot's own intents, never trained on.
"""
from __future__ import annotations

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

# Misspelt copies of 30% of the training texts: on the quick profile this kept clean accuracy
# and gained on misspelt validation texts (docs/chatbot.md, "Typos").
TYPO_SHARE = 0.3
# ... and unknown words corrected against the training vocabulary where the model serves:
# with both, one typo per BANKING77 test message costs about 2 points instead of 4.7.
TYPOS = {"typo_augmentation": TYPO_SHARE, "spelling_correction": True}
# The bot's own intents have 30-100 examples against BANKING77's ~130 per intent; this many
# extra misspelt copies of each (seeded, distinct texts) bring them level, so two quick epochs
# learn "stop" and "goodbye" as well as the banking intents.
OWN_COPIES = 3
# What a first `nlpsuite run` serves within minutes: frozen int8 MiniLM features and a logistic
# head (bench.recipe: the probe scores about as high as a full fine-tune on BANKING77).
FIRST = FineTuneArgs(recipe="probe", max_length=48, **TYPOS)
# What replaces it live: the recipe that won on validation data (bench/results/recipe.json, task
# "intents"). LP-FT: the probe's head starts a gentle fine-tune of every weight.
PROFILES = {
    "quick": FineTuneArgs(recipe="lp-ft", epochs=2, learning_rate=2e-5, head_learning_rate=2e-4, batch_size=32,
                          max_length=48, keep_best=False, **TYPOS),
    "full": FineTuneArgs(recipe="lp-ft", epochs=3, learning_rate=2e-5, head_learning_rate=2e-4, batch_size=32,
                         warmup_ratio=0.1, max_length=64, keep_best=False, **TYPOS),
}


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


def own_intents() -> tuple[str, ...]:
    return tuple(own_examples())


def _joined(*parts: LabelledTexts, source: str) -> LabelledTexts:
    return LabelledTexts([t for p in parts for t in p.texts], [y for p in parts for y in p.labels], source)


def load_intent_data(banking77_dir: Path = BANKING77) -> dict[str, LabelledTexts]:
    """{"train", "test"}: BANKING77 plus the bot's own intents (see the module docstring)."""
    banking = load_banking77(banking77_dir)
    own = own_examples()
    own_train = LabelledTexts([t for texts in own.values() for t in texts],
                              [intent for intent, texts in own.items() for _ in texts], str(OWN_NLU))
    copies = [noisy_copy(own_train, seed=seed, rate=0.2) for seed in range(1, OWN_COPIES + 1)]
    own_train = _joined(own_train, *copies, source=str(OWN_NLU))
    return {"train": _joined(banking["train"], own_train, source=f"{banking77_dir} + {OWN_NLU.name}"),
            "test": _joined(banking["test"], load_labelled(OWN_TEST, text_col="text", label_col="intent"), source=f"{banking77_dir} test + {OWN_TEST.name}")}


INTENT_CLASSIFIER = ClassifierSpec(
    name="intents",
    title="intent model (BANKING77 + the bot's own intents)",
    load_data=load_intent_data,
    profiles=PROFILES,
    expected_minutes={"quick": 7, "full": 11},
    first=FIRST,
    first_minutes=1.5,
    demo_texts=("I still have not received my new card", "How do I top up with Apple Pay?", "hello there",
                "can I talk to a real person?"),
)
