"""The chatbot's section of the suite config (``chatbot:`` in nlpsuite.yml, or
``NLPSUITE__CHATBOT__<KEY>`` environment variables).

Paths are relative to the working directory. Defaults run everything locally: SQLite for the
bank's demo database and for Rasa's tracker store, servers on 127.0.0.1.
"""
from __future__ import annotations

from typing import Optional, Union

from pydantic import root_validator

from shared.config import StrictModel, load_section

REPLICAS_ENV = "NLPSUITE_RASA_REPLICAS"
"""How many Rasa replicas share the per-sender limits (``chatbot.channels.replica_share``)."""


class ClassifierSettings(StrictModel):
    """Options of the Rasa component ``chatbot.components.CoreIntentClassifier``.

    Besides the keys below, any fine-tuning hyperparameter of ``shared.training.FineTuneArgs``
    may be given by its name (``epochs``, ``learning_rate``, ``early_stopping_patience``, ...):
    it is declared there once, with its help text, and passed through to the component.
    """

    model: Optional[str] = None
    """An already fine-tuned model folder (e.g. bench/work/banking77): no training, just export."""
    threads: Optional[int] = None
    backend: str = "onnx"
    target_precision: float = 0.9

    class Config:
        extra = "allow"  # checked below: only FineTuneArgs' names

    @root_validator(pre=True)
    def _only_hyperparameters(cls, values):  # noqa: N805 (pydantic validator)
        from shared.training.args import FineTuneArgs

        if "patience" in values:  # its name before the options were derived from FineTuneArgs
            values = {**values, "early_stopping_patience": values["patience"]}
            del values["patience"]
        unknown = sorted(set(values) - set(cls.__fields__) - set(FineTuneArgs.names()))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}: neither a classifier option nor a "
                             "fine-tuning hyperparameter (shared.training.FineTuneArgs)")
        FineTuneArgs.from_mapping(values)  # a value of the wrong type fails here, naming its key
        return values

    def hyperparameters(self) -> dict:
        """The fine-tuning hyperparameters given here, on top of the component's defaults."""
        from chatbot.intents import COMPONENT_DEFAULTS  # the chatbot's hyperparameters live there
        from shared.training.args import FineTuneArgs

        given = {k: v for k, v in self.dict().items() if k in FineTuneArgs.names()}
        return {**COMPONENT_DEFAULTS, **given}


class ChatbotSettings(StrictModel):
    """The ``chatbot:`` section: where the Rasa project, models and databases live, the servers' ports
    and the classifier's options; every path is relative to the working directory."""

    project_dir: str = "var/chatbot/project"
    models_dir: str = "var/chatbot/models"
    bank_db: str = "sqlite:///var/chatbot/bank.db"
    """SQLAlchemy URL of the bank's (demo) customer database the actions query."""
    tracker_store: str = "sqlite:///var/chatbot/tracker.db"
    """SQLAlchemy URL of Rasa's SQL tracker store: sqlite:///path or postgresql://user@host:5432/db."""
    tracker_password_env: str = "NLPSUITE_TRACKER_PASSWORD"
    """Environment variable holding the tracker-store database password (never in the config)."""
    lock_store: Optional[str] = None
    """Rasa's lock store on Redis (``redis://host:6379/1``), so that several Rasa servers sharing the
    tracker never process one conversation at once; unset: Rasa's in-memory lock (one server).
    The password comes from ``$NLPSUITE_REDIS_PASSWORD``; `nlpsuite run` sets this from
    ``suite.redis_url`` when ``suite.replicas`` is set."""
    faq: str = "data/chatbot/faq.csv"
    faq_index: str = "var/chatbot/faq_index"
    embedder: str = "minilm-l6"
    retrieval_threshold: float = 0.6
    fallback_threshold: Union[float, str] = "model"
    """Below this intent confidence the FallbackClassifier predicts nlu_fallback; "model" takes
    the threshold the classifier chose on validation data (its model card)."""
    uncertain_below: float = 0.5
    messages_per_minute: int = 30
    """The REST channel answers 429 to a sender past this many messages in a minute."""
    outbox_dir: str = "var/outbox"
    """Where the one-time codes that prove who a customer is are mailed (.eml files; `nlpsuite
    run` points it at the suite's local outbox)."""
    taught_store: Optional[str] = None
    """The intents taught to the running bot (`nlpsuite chatbot teach`): a JSON file; `nlpsuite run`
    keeps it at var/chatbot/taught.json. Unset: nothing taught, and teach uses that path."""
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    web_port: int = 8000
    rasa_url: Optional[str] = None
    """Where the web page's proxy reaches Rasa; default http://{host}:{rasa_port}."""
    classifier: ClassifierSettings = ClassifierSettings()

    @property
    def rasa_base_url(self) -> str:
        return self.rasa_url or f"http://{self.host}:{self.rasa_port}"


def load_settings(path=None) -> ChatbotSettings:
    """The validated ``chatbot:`` section; a wrong key or value is a ConfigError naming it."""
    return load_section("chatbot", ChatbotSettings, path)
