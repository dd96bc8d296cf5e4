"""The fallback action: search the FAQ when the intent classifier was not confident enough."""
from __future__ import annotations

import logging
from typing import Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from chatbot.actions.resources import faq_index, settings

logger = logging.getLogger(__name__)

HANDOFF_BUTTON = {"title": "Talk to a person", "payload": "/request_human"}


class ActionFaqFallback(Action):
    """Best FAQ answer above the similarity threshold, else an honest "not sure" and the
    offer of a person (a button whose payload bypasses the classifier)."""

    def name(self) -> Text:
        return "action_faq_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        text = (tracker.latest_message or {}).get("text") or ""
        match = None
        if text.strip():
            try:
                match = faq_index().best(text, settings().retrieval_threshold)
            except Exception:  # the search failing must not cost the customer an answer
                logger.exception("FAQ search failed")
        if match is not None:
            dispatcher.utter_message(text=match.entry.answer,
                                     json_message={"faq": {"question": match.entry.question,
                                                           "score": round(match.score, 3)}})
            return []
        dispatcher.utter_message(
            text="I'm sorry, I'm not sure I understood. Could you rephrase it, or would you like to "
                 "talk to a person?",
            buttons=[HANDOFF_BUTTON],
        )
        return []
