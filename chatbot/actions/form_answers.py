"""Taking the value a form asked for when it comes after an interruption.

A form asks for a slot; the customer asks something else; the bot answers and asks "shall we
carry on?". Rasa then treats the form as interrupted: its slot mappings skip the requested slot
and the form skips validation on its next run, so a customer who answers with the value
itself ("4242") instead of "yes" would be asked again. This action, run by the rule for the
``inform`` intent during a form (``chatbot.project.form_rules``), puts the value through the
form's own validation (the same ``validate_<slot>`` method, so a customer number still gets
its emailed code) and sets the slot; the form then goes on to its next question, as
RasaHQ/financial-demo's forms take a valid value in place of "yes".
"""
from __future__ import annotations

import inspect
from typing import Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from chatbot.actions.bank_actions import ValidateCardControlForm, ValidateCardStatusForm, ValidateTransferStatusForm

REQUESTED_SLOT = "requested_slot"
VALIDATORS = {v().name(): v for v in (ValidateCardStatusForm, ValidateTransferStatusForm, ValidateCardControlForm)}


class ActionTakeFormAnswer(Action):
    """Validates and sets the slot the form asked for from the latest message's entity of that name."""

    def name(self) -> Text:
        return "action_take_form_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        requested = tracker.get_slot(REQUESTED_SLOT)
        value = next(tracker.get_latest_entity_values(requested), None) if requested else None
        if value is None:
            return []
        validator = VALIDATORS.get(f"validate_{tracker.active_loop_name}")
        method = getattr(validator(), f"validate_{requested}", None) if validator else None
        if method is None:
            return [SlotSet(requested, value)]
        result = method(value, dispatcher, tracker, domain)
        if inspect.isawaitable(result):
            result = await result
        return [SlotSet(name, slot_value) for name, slot_value in (result or {}).items()]
