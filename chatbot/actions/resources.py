"""What the actions share, created once per action-server process: the suite config, the
bank database and the FAQ search index (its sentence encoder loads on first use)."""
from __future__ import annotations

import logging
import threading
from functools import lru_cache

import shared  # noqa: F401  (offline environment before any Hugging Face import)

from chatbot.bank import Bank, seed_demo
from chatbot.settings import ChatbotSettings, load_settings

logger = logging.getLogger(__name__)
_faq_lock = threading.Lock()
_faq_index = None


@lru_cache(maxsize=1)
def settings() -> ChatbotSettings:
    """The chatbot's settings, read once per action-server process (``load_settings()``: $NLPSUITE_CONFIG,
    else ./nlpsuite.yml)."""
    return load_settings()


@lru_cache(maxsize=1)
def bank() -> Bank:
    """The bank database the actions share, opened once per process; the demo customers are added when it
    is empty, so a fresh action server has someone to look up."""
    db = Bank(settings().bank_db)
    if seed_demo(db):
        logger.info("created the demo bank database at %s", settings().bank_db)
    return db


@lru_cache(maxsize=1)
def verifier():
    """Who each conversation has proved to be (chatbot.verification), in the bank's database."""
    from chatbot.verification import Verifier, seed_demo_logins

    made = Verifier(bank(), settings().outbox_dir)
    seed_demo_logins(bank())
    return made


def faq_index():
    """The FAISS FAQ index, loaded (or built from the FAQ table) on first use."""
    global _faq_index
    with _faq_lock:
        if _faq_index is None:
            from shared.embeddings import Embedder
            from chatbot.faq import FaqIndex

            embedder = Embedder(settings().embedder, threads=1)
            _faq_index = FaqIndex.load_or_build(settings().faq_index, settings().faq, embedder)
            logger.info("FAQ index ready: %d questions", len(_faq_index.entries))
        return _faq_index
