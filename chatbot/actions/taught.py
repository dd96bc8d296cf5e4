"""The answer of an intent taught to the running bot (``chatbot.teach``).

Rasa's domain has one intent for every taught one, ``taught_intent``; the classifier component
puts the taught intent's name and its answer into the message's parse data, so a new intent
needs no change to the domain, the rules or this server.
"""
from __future__ import annotations

from typing import Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

TAUGHT_KEY = "taught"  # chatbot.components.TAUGHT_KEY (the action server does not import Rasa)
MISSING = "Sorry, I lost track of that answer. Could you ask again, or say 'talk to a person'?"


class ActionTaughtAnswer(Action):
    """Says the taught intent's answer."""

    def name(self) -> Text:
        return "action_taught_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        taught = (tracker.latest_message or {}).get(TAUGHT_KEY) or {}
        answer = taught.get("answer")
        dispatcher.utter_message(text=answer or MISSING, json_message={"taught": taught.get("intent")} if answer else None)
        return []
