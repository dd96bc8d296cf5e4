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

OPEN_PATHS = ("/health",)


def token_matches(given: str, token: str) -> bool:
    """Compared as bytes: a token with any characters at all is a plain mismatch (401), never a 500."""
    return hmac.compare_digest(str(given).encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def guard(app, token: str) -> None:
    """Refuse every request without the token (401), except the readiness probe."""
    from sanic import response

    from sanic.exceptions import SanicException

    @app.exception(SanicException)
    async def http_error(request, exception):
        """Sanic's own refusals (413 for a body over SANIC_REQUEST_MAX_SIZE, 404, 405) keep their
        status: rasa-sdk's catch-all handler would make them a 500 that echoes the body."""
        return response.json({"error": str(exception)}, status=getattr(exception, "status_code", 500))

    @app.on_request
    async def require_token(request):
        if request.path in OPEN_PATHS:
            return None
        if not token_matches(request.args.get("token", ""), token):
            return response.json({"error": "missing or wrong API token"}, status=401)
        return None


def main() -> None:
    """Entry point of `python -m chatbot.actions_launcher` (how chatbot.server starts the action server):
    `rasa run actions` with rasa-sdk's app made without CORS origins and behind the token guard."""
    from chatbot.rasa_launcher import run_rasa, token_and_args

    token, args = token_and_args("python -m chatbot.actions_launcher TOKEN_ENV [rasa run actions options]")
    from rasa_sdk import endpoint

    create_app = endpoint.create_app

    def guarded_create_app(*positional, **options):
        options["cors_origins"] = []  # no browser page may call the action server
        app = create_app(*positional, **options)
        guard(app, token)
        return app

    endpoint.create_app = guarded_create_app  # endpoint.run() looks it up when it starts
    run_rasa(["run", "actions", *args])


if __name__ == "__main__":
    main()
