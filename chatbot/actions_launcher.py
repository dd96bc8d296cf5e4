"""`python -m chatbot.actions_launcher TOKEN_ENV [rasa run actions options]`: the rasa-sdk
action server, answering only callers that send the suite's API token.

rasa-sdk has no authentication and allows every CORS origin; the action server runs actions
that change the bank's data (freezing a card), so anyone who can reach its port could do that.
The launcher wraps rasa-sdk's app: every route but ``/health`` needs ``?token=`` (Rasa sends it:
``action_endpoint.token`` in endpoints.yml, taken from the same environment variable), and no
CORS header is sent. The token comes from the environment, never the command line.
"""
from __future__ import annotations

import hmac
import os
import sys

OPEN_PATHS = ("/health",)


def guard(app, token: str) -> None:
    """Refuse every request without the token (401), except the readiness probe."""
    from sanic import response

    @app.on_request
    async def require_token(request):
        if request.path in OPEN_PATHS:
            return None
        if not hmac.compare_digest(request.args.get("token", ""), token):
            return response.json({"error": "missing or wrong API token"}, status=401)
        return None


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m chatbot.actions_launcher TOKEN_ENV [rasa run actions options]")
    env_name, args = sys.argv[1], sys.argv[2:]
    token = os.environ.get(env_name)
    if not token:
        raise SystemExit(f"${env_name} holds no API token")
    from rasa_sdk import endpoint

    create_app = endpoint.create_app

    def guarded_create_app(*positional, **options):
        options["cors_origins"] = []  # no browser page may call the action server
        app = create_app(*positional, **options)
        guard(app, token)
        return app

    endpoint.create_app = guarded_create_app  # endpoint.run() looks it up when it starts
    sys.argv = ["rasa", "run", "actions", *args]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
