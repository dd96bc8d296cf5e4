"""Custom actions for the rasa-sdk action server (`rasa run actions --actions chatbot.actions`).

rasa-sdk imports this package and every module in it, registering each Action subclass.
"""
