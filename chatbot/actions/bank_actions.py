"""Actions that read and change the bank's database: card delivery status, card freeze and
unfreeze (through the card_control_form), transfer status, and handing over to a person."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from chatbot.actions.resources import bank, verifier
from chatbot.bank import parse_customer_id, parse_last4
from chatbot.verification import Outcome, parse_code

VERIFIED = "verified"
"""The verification_code slot once the conversation proved who it is (the code itself is never kept)."""
LOCKED_TEXT = ("For your security I can't go on with customer number {customer_id} in this conversation. "
               "A colleague can help: just say 'talk to a person'.")
NOT_VERIFIED = "I need to check it's you first: what's your customer number?"

CARD_STATUS_TEXT = {
    "ordered": "has been ordered and will be dispatched within 1 working day",
    "in_delivery": "is on its way",
    "active": "is active",
    "frozen": "is frozen",
}


class CustomerIdValidation(FormValidationAction):
    """Slot checks shared by the forms: a customer number, then proof that this conversation is
    that customer (chatbot.verification): a code mailed to the address on file, unless the
    conversation proved it lately (or signed in on the chat page). An unknown number gets the
    same answers as a known one, so numbers cannot be guessed."""

    def name(self) -> Text:  # pragma: no cover - abstract in practice
        return "validate_customer_forms"

    def validate_customer_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: Dict) -> Dict[Text, Any]:
        customer_id = parse_customer_id(str(value or ""))
        if customer_id is None:
            dispatcher.utter_message(text="That doesn't look like a customer number. It is a C followed by "
                                          "4 digits, for example C1001.")
            return {"customer_id": None}
        if verifier().is_locked(tracker.sender_id, customer_id):
            dispatcher.utter_message(text=LOCKED_TEXT.format(customer_id=customer_id))
            return {"customer_id": None, "verification_code": None}
        if verifier().is_verified(tracker.sender_id, customer_id):
            return {"customer_id": customer_id, "verification_code": VERIFIED}
        verifier().start(tracker.sender_id, customer_id)
        dispatcher.utter_message(text=f"Thanks. If {customer_id} is one of our customer numbers, I've just "
                                      "emailed a 6-digit code to the address we have on file for it.")
        return {"customer_id": customer_id, "verification_code": None}

    def validate_verification_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: Dict) -> Dict[Text, Any]:
        customer_id = tracker.get_slot("customer_id")
        if value == VERIFIED and verifier().is_verified(tracker.sender_id, customer_id):
            return {"verification_code": VERIFIED}
        code = parse_code(str(value or ""))
        if code is None or not customer_id:
            dispatcher.utter_message(text="Please type the 6 digits of the code from the email.")
            return {"verification_code": None}
        outcome, left = verifier().check(tracker.sender_id, customer_id, code)
        if outcome is Outcome.VERIFIED:
            return {"verification_code": VERIFIED}
        if outcome is Outcome.LOCKED:
            dispatcher.utter_message(text=LOCKED_TEXT.format(customer_id=customer_id))
            return {"verification_code": None, "customer_id": None}
        dispatcher.utter_message(text=f"That code isn't right. Please check the email and try again "
                                      f"({left} {'try' if left == 1 else 'tries'} left).")
        return {"verification_code": None}


class ValidateCardStatusForm(CustomerIdValidation):
    """Checks who the customer is while card_status_form runs (it starts after the FAQ answer to
    card_arrival): the customer number, then the mailed code or a chat-page sign-in."""

    def name(self) -> Text:
        return "validate_card_status_form"


class ValidateTransferStatusForm(CustomerIdValidation):
    """Checks who the customer is while transfer_status_form runs (it starts after the FAQ answer to
    pending_transfer or transfer_not_received_by_recipient): the customer number, then the mailed code or sign-in."""

    def name(self) -> Text:
        return "validate_transfer_status_form"


class ValidateCardControlForm(CustomerIdValidation):
    """Checks card_control_form's slots (freeze_card or unfreeze_card starts it): who the customer is, then
    the card's last four digits, taken only once the conversation is verified and only for a card they have."""

    def name(self) -> Text:
        return "validate_card_control_form"

    def validate_card_last4(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: Dict) -> Dict[Text, Any]:
        last4 = parse_last4(str(value or ""))
        if not verifier().is_verified(tracker.sender_id, tracker.get_slot("customer_id")):
            return {"card_last4": None}  # digits given before the proof: asked again after it, nothing shown
        customer = bank().customer(tracker.get_slot("customer_id") or "")
        if last4 is None:
            dispatcher.utter_message(text="Please give me exactly 4 digits: the end of the card number.")
            return {"card_last4": None}
        if customer is None or last4 not in {c.last4 for c in customer.cards}:
            known = ", ".join(c.last4 for c in customer.cards) if customer else ""
            hint = f" Your cards end in {known}." if known else ""
            dispatcher.utter_message(text=f"I couldn't find a card ending in {last4} on your account.{hint}")
            return {"card_last4": None}
        return {"card_last4": last4}


def verified_customer(tracker: Tracker, dispatcher: CollectingDispatcher):
    """The customer this conversation has proved it is, else None (and the bot says so): the
    actions' own check, whatever the slots say."""
    customer_id = tracker.get_slot("customer_id")
    customer = bank().customer(customer_id or "") if verifier().is_verified(tracker.sender_id, customer_id) else None
    if customer is None:
        dispatcher.utter_message(text=NOT_VERIFIED)
    return customer


class ActionCardDeliveryStatus(Action):
    """Tells the verified customer how each of their cards stands (ordered, on its way with dispatch and
    expected dates, active, frozen); runs when card_status_form completes. Unverified: asks who they are again."""

    def name(self) -> Text:
        return "action_card_delivery_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        customer = verified_customer(tracker, dispatcher)
        if customer is None:
            return [SlotSet("verification_code", None)]
        lines = []
        for card in customer.cards:
            text = f"Your {card.kind} card ending in {card.last4} {CARD_STATUS_TEXT.get(card.status, card.status)}"
            if card.status == "in_delivery" and card.expected_delivery:
                text += (f": dispatched on {card.dispatched:%d %B}, expected by "
                         f"{card.expected_delivery:%A %d %B}")
            lines.append(text + ".")
        dispatcher.utter_message(text=" ".join(lines) or "You have no cards with us yet.")
        return []


class ActionTransferStatus(Action):
    """Tells the verified customer the status of their three newest transfers (with the reason when one is not
    completed); runs when transfer_status_form completes. Unverified: asks who they are again."""

    def name(self) -> Text:
        return "action_transfer_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        customer = verified_customer(tracker, dispatcher)
        if customer is None:
            return [SlotSet("verification_code", None)]
        if not customer.transfers:
            dispatcher.utter_message(text="I can't see any recent transfers on your account.")
            return []
        lines = []
        for t in customer.transfers[:3]:
            line = f"{t.id}: {t.amount:.2f} {t.currency} to {t.recipient} is {t.status}"
            if t.reason and t.status != "completed":
                line += f" ({t.reason})"
            lines.append(line + ".")
        dispatcher.utter_message(text="Your recent transfers: " + " ".join(lines))
        return []


def _requested_operation(tracker: Tracker) -> str:
    """freeze or unfreeze: what the customer's latest freeze/unfreeze message asked for."""
    for event in reversed(tracker.events):
        intent = (event.get("parse_data") or {}).get("intent", {}).get("name") if event.get("event") == "user" else None
        if intent in ("freeze_card", "unfreeze_card"):
            return "freeze" if intent == "freeze_card" else "unfreeze"
    return "freeze"


class ActionCardControl(Action):
    """Freeze or unfreeze the card the form collected; the slot card_operation says which."""

    def name(self) -> Text:
        return "action_card_control"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        operation = tracker.get_slot("card_operation") or _requested_operation(tracker)
        customer_id, last4 = tracker.get_slot("customer_id"), tracker.get_slot("card_last4")
        if verified_customer(tracker, dispatcher) is None:
            return [SlotSet("verification_code", None), SlotSet("card_last4", None)]
        status = "frozen" if operation == "freeze" else "active"
        card = bank().set_card_status(customer_id or "", last4 or "", status)
        if card is None:
            dispatcher.utter_message(text="I couldn't change that card, sorry. Let me know if you'd like a person.")
        elif status == "frozen":
            dispatcher.utter_message(text=f"Done: your card ending in {last4} is frozen. No payments or "
                                          "withdrawals will go through until you unfreeze it.")
        else:
            dispatcher.utter_message(text=f"Done: your card ending in {last4} is unfrozen and works again.")
        return [SlotSet("card_last4", None), SlotSet("card_operation", None)]


def _recent_user_texts(tracker: Tracker, n: int = 5) -> List[str]:
    texts = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")]
    return [t[:500] for t in texts[-n:]]


class ActionHandoff(Action):
    """Record a ticket for a colleague with the last things the customer said."""

    def name(self) -> Text:
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        customer_id: Optional[str] = tracker.get_slot("customer_id")
        summary = "\n".join(_recent_user_texts(tracker)) or "(no messages)"
        ticket = bank().open_ticket(tracker.sender_id, customer_id, summary)
        dispatcher.utter_message(
            text=f"I've passed our conversation to a colleague (ticket {ticket.reference}). "
                 "They will reply here within 15 minutes, between 8am and 8pm.",
            json_message={"handoff": {"ticket": ticket.reference}},
        )
        return []
