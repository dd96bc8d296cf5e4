"""`python -m chatbot.rasa_launcher TOKEN_ENV rasa-args...`: `rasa run` with ``--auth-token``
taken from the environment variable TOKEN_ENV.

Rasa reads its HTTP API token only from the command line, and a command line is visible to
every user of the machine (``ps``); the launcher adds it inside the process, after start, so
only the environment (readable by the owner alone) carries it. With the token, Rasa's tracker,
model and conversation endpoints refuse calls without ``?token=``; the REST channel stays open
to sender ids it issued itself (``chatbot.senders``, keyed from the same token).
"""
from __future__ import annotations

import os
import sys


def token_and_args(usage: str) -> tuple[str, list[str]]:
    """(the token from the variable named by the first argument, the remaining arguments)."""
    if len(sys.argv) < 2:
        raise SystemExit(f"usage: {usage}")
    env_name, args = sys.argv[1], sys.argv[2:]
    token = os.environ.get(env_name)
    if not token:
        raise SystemExit(f"${env_name} holds no API token")
    return token, args


def run_rasa(args: list[str]) -> None:
    """Rasa's own command line, in this process."""
    sys.argv = ["rasa", *args]
    from rasa.__main__ import main as rasa_main

    rasa_main()


def main() -> None:
    """Entry point of `python -m chatbot.rasa_launcher` (how chatbot.server starts Rasa): sets the REST
    channel to take only sender ids it issued, then runs Rasa with ``--auth-token`` added in-process."""
    token, args = token_and_args("python -m chatbot.rasa_launcher TOKEN_ENV run [rasa options]")
    from chatbot import channels

    channels.configure(token)  # the REST channel then takes only sender ids it issued
    run_rasa([*args, "--auth-token", token])


if __name__ == "__main__":
    main()
