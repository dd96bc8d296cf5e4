"""`python -m chatbot.rasa_launcher TOKEN_ENV rasa-args...`: `rasa run` with ``--auth-token``
taken from the environment variable TOKEN_ENV.

Rasa reads its HTTP API token only from the command line, and a command line is visible to
every user of the machine (``ps``); the launcher adds it inside the process, after start, so
only the environment (readable by the owner alone) carries it. With the token, Rasa's tracker,
model and conversation endpoints refuse calls without ``?token=``; the REST channel stays open.
"""
from __future__ import annotations

import os
import sys


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit("usage: python -m chatbot.rasa_launcher TOKEN_ENV run [rasa options]")
    env_name, args = sys.argv[1], sys.argv[2:]
    token = os.environ.get(env_name)
    if not token:
        raise SystemExit(f"${env_name} holds no API token")
    sys.argv = ["rasa", *args, "--auth-token", token]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
