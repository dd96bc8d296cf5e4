"""The database and Redis servers a scaled-out suite runs on, checked before anything starts.

With ``suite.backend: postgres`` every product keeps its data on ``suite.database_url``; with
``suite.replicas`` Rasa's lock store is on ``suite.redis_url``. A wrong password or an
unreachable server is found here, in seconds, with the key and the variable to fix, instead
of as a service that keeps crashing after the models were trained.
"""
from __future__ import annotations

import os

from shared.errors import CommandError
from shared.product import SuiteSettings

REDIS_PASSWORD_ENV = "NLPSUITE_REDIS_PASSWORD"


def check_database(url: str) -> None:
    """Log in to ``url`` (password from ``$NLPSUITE_DB_PASSWORD``) and run ``SELECT 1``."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from shared.sqlite import DATABASE_PASSWORD_ENV, engine

    made = engine(url)
    try:
        with made.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise CommandError(f"suite.database_url: cannot log in to {url} ({reason}); check the URL, the server "
                           f"and ${DATABASE_PASSWORD_ENV}") from None
    finally:
        made.dispose()


def redis_client(url: str):
    """A Redis client for ``url``, the password from ``$NLPSUITE_REDIS_PASSWORD`` when the URL has none."""
    import redis

    return redis.Redis.from_url(url, password=None if "@" in url else os.environ.get(REDIS_PASSWORD_ENV),
                                socket_timeout=5)


def check_redis(url: str) -> None:
    """PING ``url``."""
    import redis

    try:
        redis_client(url).ping()
    except redis.RedisError as exc:
        raise CommandError(f"suite.redis_url: no answer from {url} ({exc}); check the URL, the server "
                           f"and ${REDIS_PASSWORD_ENV}") from None


def check_backends(settings: SuiteSettings) -> None:
    """The servers ``settings`` names answer (nothing to check for the embedded SQLite default)."""
    if settings.backend == "postgres":
        check_database(settings.database_url)
    if settings.replicas and settings.redis_url:
        check_redis(settings.redis_url)
