"""Rasa 3.6 NLU components backed by the suite's fine-tuning core.

``CoreIntentClassifier`` is a trainable intent classifier: at ``rasa train`` it fine-tunes a
registered encoder on the NLU examples through ``shared.training.finetune`` (or takes an
already fine-tuned folder from its ``model`` option and skips training), exports it to int8
ONNX, chooses a fallback threshold on held-out validation data, and stores the folder in
Rasa's model storage, so the model archive is self-contained. At parse time it sets
``intent`` and a top-10 ``intent_ranking`` of calibrated (temperature-scaled) confidences.

When ``model`` is a versions folder (``shared.model_versions``: what `nlpsuite run` serves its
classifiers from) and it is there when the server loads, the component serves its current
version instead of the archived copy and follows its pointer: a better version trained while
the bot runs is loaded in the background and swapped in, no restart and no message dropped.

``CalibratedFallbackClassifier`` is Rasa's FallbackClassifier, except that its threshold can
be ``"model"``: the threshold the classifier chose on validation data and wrote into its
model card, so that the number lives with the model it was measured on.

This module must stay importable as ``chatbot.components`` (an installed package): Rasa records
the component's module path in the trained archive.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.classifiers.fallback_classifier import (
    AMBIGUITY_THRESHOLD_KEY,
    THRESHOLD_KEY,
    FallbackClassifier,
    _fallback_intent,
)
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

import shared  # noqa: F401  (offline, torch-only environment before any Hugging Face import)

logger = logging.getLogger(__name__)

MODEL_SUBDIR = "model"
# Passed from the classifier to the fallback classifier on each message (not in the output).
THRESHOLD_MESSAGE_KEY = "nlpsuite_confidence_threshold"
DEFAULT_THRESHOLD = 0.3
KNOWN_INTENTS = "known_intents.json"
TAUGHT_INTENT = "taught_intent"
TAUGHT_KEY = "taught"
"""In the parse data of a message classified as a taught intent: its name and answer."""


def training_data_to_labelled(training_data: TrainingData):
    """Rasa's intent examples as the core's LabelledTexts (text, intent)."""
    from shared.data import LabelledTexts

    texts, labels = [], []
    for example in training_data.intent_examples:
        text, intent = (example.get(TEXT) or "").strip(), example.get(INTENT)
        if text and intent:
            texts.append(text)
            labels.append(intent)
    return LabelledTexts(texts, labels, source="rasa training data")


def has_known_words(tokenizer, text: str, unk_id: Optional[int]) -> bool:
    """False for texts the model cannot read at all: empty, punctuation, or only unknown tokens
    (emoji, a script missing from the vocabulary). Their prediction would be noise, not a guess."""
    encoding = tokenizer.encode(text or "")
    return any(not special and i != unk_id and any(ch.isalnum() for ch in token)
               for i, token, special in zip(encoding.ids, encoding.tokens, encoding.special_tokens_mask))


class TaughtAnswers:
    """{label: answer} of the intents taught to the running bot (chatbot.teach), read again
    whenever the store file changes; a broken store keeps the answers last read."""

    def __init__(self, path: Optional[str]):
        self.path = path
        self._read: tuple = (None, {})

    def get(self) -> Dict[Text, Text]:
        from chatbot.teach import TaughtStore

        if not self.path:
            return {}
        try:
            mtime = Path(self.path).stat().st_mtime_ns
        except OSError:
            return {}
        if mtime != self._read[0]:
            try:
                self._read = (mtime, {n: t.answer for n, t in TaughtStore(self.path).load().items()})
            except Exception:  # noqa: BLE001 (a broken store must not stop the bot)
                logger.exception("taught intents: cannot read %s", self.path)
        return self._read[1]


def _known_intents(model_storage: ModelStorage, resource: Resource) -> Optional[frozenset]:
    """The intents the archive's component was trained with, or None (an older archive)."""
    try:
        with model_storage.read_from(resource) as storage_dir:
            path = Path(storage_dir) / KNOWN_INTENTS
            return frozenset(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None
    except ValueError:
        return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class CoreIntentClassifier(GraphComponent, IntentClassifier):
    """Intent classification with a fine-tuned transformer served from onnxruntime int8."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        from chatbot.intents import COMPONENT_DEFAULTS
        from shared.training.args import FineTuneArgs

        return {
            "model": None,  # an already fine-tuned model folder: skip training, export it
            # every fine-tuning hyperparameter, by its FineTuneArgs name (declared there once)
            **FineTuneArgs.defaults(**COMPONENT_DEFAULTS),
            "threads": None,  # intra-op threads for training and serving; None: all cores
            "backend": "onnx",  # "onnx" (int8 by default) or "torch"
            "int8": True,
            "ranking_length": 10,
            "taught_store": None,  # intents taught to the running bot (chatbot.teach): their answers
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 predictor=None) -> None:
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self._predictor = predictor
        self._live = None
        """A ``LiveModel`` following the ``model`` versions folder, when serving from one."""
        self._taught = TaughtAnswers(config.get("taught_store"))
        self._known: Optional[frozenset] = None
        """The intents of the NLU data it was trained with (Rasa's domain), when the archive says."""

    @property
    def predictor(self):
        """The Predictor to use now: the live version's, else the archived one."""
        return self._live.get() if self._live is not None else self._predictor

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "CoreIntentClassifier":
        return cls(config, model_storage, resource)

    # -- training --------------------------------------------------------------------------
    def train(self, training_data: TrainingData) -> Resource:
        from shared.data import stratified_split

        data = training_data_to_labelled(training_data)
        if len(set(data.labels)) < 2:
            logger.warning("CoreIntentClassifier: fewer than two intents with examples; nothing to train")
            return self._resource
        with self._model_storage.write_to(self._resource) as storage_dir:
            (Path(storage_dir) / KNOWN_INTENTS).write_text(json.dumps(sorted(set(data.labels))), encoding="utf-8")
            target = Path(storage_dir) / MODEL_SUBDIR
            if self.component_config.get("model"):
                self._take_finetuned(Path(self.component_config["model"]).expanduser(), target)
                validation = data  # the folder's own validation set is not known; see the card
                note = ("chosen on the Rasa training examples, which the model may have been "
                        "trained on: optimistic")
            else:
                train, validation = stratified_split(data, self.component_config["validation_size"],
                                                     seed=self.component_config["seed"])
                if len(validation) == 0:
                    train, validation = data, data
                self._finetune(train, validation, target)
                note = "chosen on the held-out validation split of the Rasa training examples"
            self._predictor = self._make_predictor(target)
            self._write_threshold(target, validation, note)
        return self._resource

    def _finetune(self, train, validation, target: Path) -> None:
        from shared.deploy import finetune_for_serving
        from shared.training import FineTuneArgs

        cfg = self.component_config
        args = FineTuneArgs.from_mapping(cfg)
        logger.info("fine-tuning %s on %d examples of %d intents", args.base, len(train), len(set(train.labels)))
        finetune_for_serving(train, args, target, validation=validation, onnx=cfg["backend"] != "torch",
                             int8=bool(cfg["int8"]))

    def _take_finetuned(self, source: Path, target: Path) -> None:
        from shared.export import export_onnx
        from shared.model_dir import ModelFolderError, ModelInfo
        from shared.model_versions import served_folder

        source = served_folder(source)  # a versions folder: its current version goes into the archive
        if not source.is_dir():
            raise ModelFolderError(f"CoreIntentClassifier: model folder {source} does not exist")
        info = ModelInfo.load(source)
        has_torch = any((source / n).is_file() for n in ("model.safetensors", "pytorch_model.bin"))
        if self.component_config["backend"] == "onnx" and not info.onnx_file:
            logger.info("exporting %s to ONNX (int8=%s)", source, self.component_config["int8"])
            export_onnx(source, target, int8=bool(self.component_config["int8"]))
        elif self.component_config["backend"] == "torch" and not has_torch:
            raise ModelFolderError(f"{source} holds no torch weights; use backend: onnx")
        else:
            # an ONNX-served folder needs no torch weights in the archive (they would double its size)
            unused = ("model.safetensors", "pytorch_model.bin") if self.component_config["backend"] == "onnx" else ()
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("checkpoints", "runs", *unused))

    def _make_predictor(self, folder: Path):
        from shared.inference import Predictor

        return Predictor(folder, self.component_config["backend"], threads=self.component_config["threads"])

    def _write_threshold(self, folder: Path, validation, note: str) -> None:
        """Choose the fallback threshold on validation data; record it in nlpsuite.json and the card."""
        from shared.evaluation.threshold import choose_threshold
        from shared.model_dir import ModelInfo

        info = ModelInfo.load(folder)
        if info.confidence_threshold is not None and self.component_config.get("model"):
            return  # the fine-tuned folder already carries a threshold chosen on its validation set
        predictions = self._predictor.predict(validation.texts, top_k=1)
        choice = choose_threshold([p.confidence for p in predictions],
                                  [p.label == y for p, y in zip(predictions, validation.labels)],
                                  wrong_cost=float(self.component_config["wrong_cost"]))
        info.confidence_threshold = choice.threshold
        info.hyperparameters = dict(info.hyperparameters, fallback_threshold=choice.to_dict())
        info.save(folder)
        card = folder / "README.md"
        text = card.read_text(encoding="utf-8") if card.is_file() else f"# {folder.name}\n"
        text += (
            "\n## Fallback threshold (Rasa FallbackClassifier)\n\n"
            f"Messages whose top confidence is below **{choice.threshold:.2f}** become `nlu_fallback` "
            f"(FAQ search, then the offer of a person). The threshold maximises correct answers minus "
            f"{choice.wrong_cost:g} x wrong answers on {choice.n_validation} examples, {note}.\n\n"
            "| coverage (answered) | accuracy of answered | accuracy of all |\n|---|---|---|\n"
            f"| {choice.coverage:.3f} | {choice.accepted_accuracy:.3f} | {choice.overall_accuracy:.3f} |\n"
        )
        card.write_text(text, encoding="utf-8")
        logger.info("fallback threshold %.2f (coverage %.3f, accuracy of answered %.3f)",
                    choice.threshold, choice.coverage, choice.accepted_accuracy)

    # -- serving ---------------------------------------------------------------------------
    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "CoreIntentClassifier":
        from shared.model_versions import LiveModel, is_versioned

        component = cls(config, model_storage, resource)
        component._known = _known_intents(model_storage, resource)
        live = config.get("model")
        if live and is_versioned(live):
            component._live = LiveModel(live, component._make_predictor)
            logger.info("CoreIntentClassifier: serving %s version %s live", live, component._live.version)
            return component
        try:
            with model_storage.read_from(resource) as storage_dir:
                # the predictor reads everything into memory (ONNX session, tokenizer, manifest)
                component._predictor = component._make_predictor(Path(storage_dir) / MODEL_SUBDIR)
        except ValueError:
            logger.warning("CoreIntentClassifier: no trained model in the archive; it will predict nothing")
        return component

    @property
    def threshold(self) -> Optional[float]:
        return self.predictor.info.confidence_threshold if self.predictor else None

    def process(self, messages: List[Message]) -> List[Message]:
        predictor = self.predictor  # one version for the whole batch, even if a swap lands meanwhile
        if predictor is None or not messages:
            return messages
        texts = [(m.get(TEXT) or "") for m in messages]
        probs = predictor.predict_proba(texts)
        labels = predictor.labels
        unk_id = predictor.tokenizer.token_to_id("[UNK]")
        threshold = predictor.info.confidence_threshold
        k = int(self.component_config["ranking_length"])
        taught = self._taught.get()
        for message, text, row in zip(messages, texts, probs):
            order = row.argsort()[::-1][:k]
            ranking = [{INTENT_NAME_KEY: labels[j], PREDICTED_CONFIDENCE_KEY: float(row[j])} for j in order]
            intent = dict(ranking[0])
            name = intent[INTENT_NAME_KEY]
            unknown_to_rasa = name not in taught and self._known is not None and name not in self._known
            if unknown_to_rasa or not has_known_words(predictor.tokenizer, text, unk_id):
                # nothing readable, or a label Rasa's domain lacks (a taught intent being removed,
                # until the version without it is swapped in): let the fallback handle it
                intent[PREDICTED_CONFIDENCE_KEY] = 0.0
                ranking = []
            elif name in taught:  # Rasa's domain knows one intent for all taught ones
                message.set(TAUGHT_KEY, {"intent": name, "answer": taught[name]}, add_to_output=True)
                intent[INTENT_NAME_KEY] = TAUGHT_INTENT
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            if threshold is not None:
                message.set(THRESHOLD_MESSAGE_KEY, threshold)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CalibratedFallbackClassifier(FallbackClassifier):
    """Rasa's FallbackClassifier; ``threshold: model`` uses the classifier's chosen threshold."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**FallbackClassifier.get_default_config(), THRESHOLD_KEY: "model",
                "default_threshold": DEFAULT_THRESHOLD}

    def _threshold_for(self, message: Message) -> float:
        configured = self.component_config[THRESHOLD_KEY]
        if configured == "model":
            chosen = message.get(THRESHOLD_MESSAGE_KEY)
            return float(chosen) if chosen is not None else float(self.component_config["default_threshold"])
        return float(configured)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if INTENT not in message.data or not message.data[INTENT]:
                continue
            threshold = self._threshold_for(message)
            confidence = message.data[INTENT].get(PREDICTED_CONFIDENCE_KEY) or 0.0
            ambiguous, _ = self._nlu_prediction_ambiguous(message)
            if confidence >= threshold and not ambiguous:
                continue
            message.data[INTENT] = _fallback_intent(threshold)
            message.data.setdefault(INTENT_RANKING_KEY, [])
            message.data[INTENT_RANKING_KEY].insert(0, _fallback_intent(threshold))
        return messages


INFORM = "inform"
"""The intent of a message that is nothing but a value a form asks for ("4242", "it's C1001")."""
# Words that may stand around such a value without making it a request of its own.
ANSWER_FILLER = frozenset("""a an and are card code customer digits ending ends here i id in is it it's its
    last my number of ok okay on one please sure that the this yes yeah yep with""".split())


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SlotValueAnswerClassifier(GraphComponent, IntentClassifier):
    """Marks a message that only gives a value the forms ask for (customer number, card digits,
    emailed code) as ``inform``, whatever the classifier guessed.

    Why: after an interruption the bot asks "shall we carry on?"; a customer who answers with
    the card digits it needed means "yes, and here they are" (RasaHQ/financial-demo's forms
    treat a valid slot value the same way). A classifier trained on requests reads "4242" as
    noise, and the rules would then answer "out of scope" instead of resuming the form.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"entities": ["customer_id", "card_last4", "verification_code"]}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.entity_types = set(config["entities"])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SlotValueAnswerClassifier":
        return cls(config)

    def is_only_a_value(self, message: Message) -> bool:
        """True when the text holds a form value and nothing but filler words around it."""
        text = message.get(TEXT) or ""
        values = [e for e in message.get(ENTITIES) or [] if e.get(ENTITY_ATTRIBUTE_TYPE) in self.entity_types]
        if not values or text.startswith("/"):
            return False
        rest = text
        for entity in sorted(values, key=lambda e: -e[ENTITY_ATTRIBUTE_START]):
            rest = rest[:entity[ENTITY_ATTRIBUTE_START]] + " " + rest[entity[ENTITY_ATTRIBUTE_END]:]
        words = re.findall(r"[a-z']+|\d+", rest.lower())
        return all(word in ANSWER_FILLER for word in words)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if self.is_only_a_value(message):
                answer = {INTENT_NAME_KEY: INFORM, PREDICTED_CONFIDENCE_KEY: 1.0}
                message.set(INTENT, answer, add_to_output=True)
                ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != INFORM]
                message.set(INTENT_RANKING_KEY, [dict(answer)] + ranking, add_to_output=True)
        return messages


COMPONENT_INTENTS = frozenset({INFORM, TAUGHT_INTENT})
"""Domain intents that the components set, not the classifier's labels."""

__all__ = ["CoreIntentClassifier", "CalibratedFallbackClassifier", "SlotValueAnswerClassifier",
           "AMBIGUITY_THRESHOLD_KEY", "INFORM", "TAUGHT_INTENT", "COMPONENT_INTENTS"]
