"""The fallback action, in two stages, for messages the intent classifier was not sure of.

1. A confident FAQ search hit answers, and the bot asks whether that helped (yes: glad; no:
   rephrase or a person, see the rules).
2. No hit: the bot asks the customer to put it another way, with a button for a person (the
   message may be a request it cannot serve); a second miss in a row asks whether they want a
   person (a button whose payload bypasses the classifier).

The slot ``fallback_state`` (answered, rephrase, offered_person) tells the rules what "yes"
and "no" after this action answer.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from chatbot.actions.resources import faq_index, settings

logger = logging.getLogger(__name__)

HANDOFF_BUTTON = {"title": "Talk to a person", "payload": "/request_human"}
YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
STATE = "fallback_state"
REPHRASE = ("Sorry, I didn't quite get that, or it may be something I can't do here. Could you say it another "
            "way? For example: 'my card hasn't arrived' or 'how do I top up?'. Or I can get you a person.")
OFFER_PERSON = "I'm still not sure I understood, sorry. Would you like to talk to a person?"


def _missed_just_before(tracker: Tracker) -> bool:
    """True when the bot's previous turn was this action asking to rephrase."""
    if tracker.get_slot(STATE) != "rephrase":
        return False
    actions = [e.get("name") for e in tracker.events if e.get("event") == "action"
               and e.get("name") not in ("action_listen", None)]
    return bool(actions) and actions[-1] == "action_faq_fallback"


class ActionFaqFallback(Action):
    """When the classifier was unsure (nlu_fallback outside a form, or RulePolicy's core fallback): answers
    with the best FAQ match and asks whether it helped, else asks the customer to rephrase, and after a
    second miss offers a person. Sets ``fallback_state`` so the rules know what a following yes or no means."""

    def name(self) -> Text:
        return "action_faq_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        text = (tracker.latest_message or {}).get("text") or ""
        match = None
        if text.strip() and not text.startswith("/"):
            try:
                match = faq_index().best(text, settings().retrieval_threshold)
            except Exception:  # the search failing must not cost the customer an answer
                logger.exception("FAQ search failed")
        if match is not None:
            dispatcher.utter_message(text=match.entry.answer,
                                     json_message={"faq": {"question": match.entry.question,
                                                           "score": round(match.score, 3)}})
            dispatcher.utter_message(text="Did that answer your question?", buttons=YES_NO)
            return [SlotSet(STATE, "answered")]
        if _missed_just_before(tracker):
            dispatcher.utter_message(text=OFFER_PERSON, buttons=[HANDOFF_BUTTON, {"title": "No, thanks",
                                                                                  "payload": "/deny"}])
            return [SlotSet(STATE, "offered_person")]
        dispatcher.utter_message(text=REPHRASE, buttons=[HANDOFF_BUTTON])  # a decline always offers a person
        return [SlotSet(STATE, "rephrase")]
