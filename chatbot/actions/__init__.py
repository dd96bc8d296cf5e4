"""Custom actions for the rasa-sdk action server (`rasa run actions --actions chatbot.actions`).

rasa-sdk imports this package and every module in it, registering each Action subclass.
"""
import os

PRELOAD_ENV = "NLPSUITE_ACTIONS_PRELOAD"

if os.environ.get(PRELOAD_ENV) == "1":
    # Set by the servers' launchers: load the FAQ index and its sentence encoder before the
    # server answers /health, so the first customer who needs the FAQ search does not wait
    # seconds for it (and a restarted server is ready when it says so).
    from chatbot.actions.resources import bank, faq_index

    bank()
    faq_index()
