"""The chatbot's section of the suite config (``chatbot:`` in nlpsuite.yml, or
``NLPSUITE__CHATBOT__<KEY>`` environment variables).

Paths are relative to the working directory. Defaults run everything locally: SQLite for the
bank's demo database and for Rasa's tracker store, servers on 127.0.0.1.
"""
from __future__ import annotations

from typing import Optional, Union

from shared.config import StrictModel, load_section


class ClassifierSettings(StrictModel):
    """Options of the Rasa component ``chatbot.components.CoreIntentClassifier``."""

    model: Optional[str] = None
    """An already fine-tuned model folder (e.g. bench/work/banking77): no training, just export."""
    base: str = "minilm-l6"
    epochs: float = 5.0
    learning_rate: float = 1e-4
    batch_size: int = 32
    max_length: int = 64
    patience: int = 2
    """Evaluations without a validation macro-F1 gain before training stops."""
    threads: Optional[int] = None
    backend: str = "onnx"
    target_precision: float = 0.9


class ChatbotSettings(StrictModel):
    project_dir: str = "var/chatbot/project"
    models_dir: str = "var/chatbot/models"
    bank_db: str = "sqlite:///var/chatbot/bank.db"
    """SQLAlchemy URL of the bank's (demo) customer database the actions query."""
    tracker_store: str = "sqlite:///var/chatbot/tracker.db"
    """SQLAlchemy URL of Rasa's SQL tracker store: sqlite:///path or postgresql://user@host:5432/db."""
    tracker_password_env: str = "NLPSUITE_TRACKER_PASSWORD"
    """Environment variable holding the tracker-store database password (never in the config)."""
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
    return load_section("chatbot", ChatbotSettings, path)
