"""The ``suite`` section of nlpsuite.yml: where `nlpsuite run` binds and keeps its files.

    suite:
      host: 127.0.0.1        # every server binds here (loopback: nothing is exposed)
      web_port: 8000         # the web app: chat page, dashboard, recommendations, /health
      web_workers: null      # web app processes; default: one per core, as many as memory allows
      outbox_port: 8025      # the local SMTP server that stores mail in <var_dir>/outbox
      var_dir: var           # models, databases, FAISS files, logs, outbox
      profile: quick         # the recipe trained live: quick (minutes) or full (benchmark quality)
      upgrade: true          # train the profile's recipe while the suite serves, swap it in when better
      models: {}             # e.g. {intents: path/to/folder}: use a fine-tuned folder, train nothing
      allow_remote: false    # a non-loopback host stops the run unless this is true
      allowed_hosts: []      # host names the web app answers besides loopback's and host's
      client_requests_per_minute: 60    # state-changing requests per client address
      token_env: NLPSUITE_API_TOKEN   # the API token from this variable, else var/secrets/api-token
      backend: sqlite        # or postgres: every database of the suite on database_url
      database_url: null     # postgresql://user@host:5432/db; password from $NLPSUITE_DB_PASSWORD
      redis_url: null        # redis://host:6379/0 for Rasa's lock store; password from $NLPSUITE_REDIS_PASSWORD
      replicas: null         # N: N Rasa servers and N web servers behind a proxy, a standby monitor
"""
from __future__ import annotations

from typing import Dict, List, Optional

from pydantic import Field, root_validator, validator

from shared.config import StrictModel, load_section

SECTION = "suite"


class SuiteSettings(StrictModel):
    """The ``suite`` section: where the suite binds, keeps its files, and how it trains and restarts."""

    host: str = "127.0.0.1"
    web_port: int = Field(8000, ge=1, le=65535)
    outbox_port: int = Field(8025, ge=1, le=65535)
    web_workers: Optional[int] = Field(None, ge=1, le=64)
    """Processes serving the web app (each loads its own copy of the products' models); default:
    one per core, as many as the available memory holds (``shared.app.web.auto_workers``)."""
    var_dir: str = "var"
    profile: str = "quick"
    """Which recipe of each classifier the live upgrade trains: quick (minutes on 2 cores) or full
    (the benchmark hyperparameters). A first run serves the probe recipe until then."""
    upgrade: bool = True
    """Train the profile's recipe in the background while the suite serves (one thread, lowest
    CPU priority) and swap it in when it beats the served version on validation; ``off``: serve
    the best version already trained and train nothing more (``shared.app.upgrade``)."""
    upgrade_threads: int = Field(1, ge=1, le=256)
    """Threads of the background upgrade: one leaves the other cores to the servers."""
    threads: Optional[int] = Field(None, ge=1, le=256)
    """Threads for the first versions trained before the suite starts; default: all cores."""
    models: Dict[str, str] = {}
    """Already fine-tuned classifier folders by task (``intents``, ``phrasebank``): used as
    they are instead of fine-tuning the profile's."""
    allow_remote: bool = False
    """Binding ``host`` to anything but loopback exposes every service on the network; the run
    refuses to start unless this says so (then every API requires the token; put TLS in front)."""
    allowed_hosts: List[str] = []
    """Host names the web app answers besides loopback's and ``host`` (the name a proxy or a
    user's browser uses to reach it); any other ``Host`` header is refused (DNS rebinding)."""
    client_requests_per_minute: int = Field(60, ge=1)
    """State-changing requests (chat messages, interactions) one client address may send to the
    web app in any minute, whatever sender ids it uses."""
    token_env: str = "NLPSUITE_API_TOKEN"
    """The environment variable that may hold the API token; else ``<var_dir>/secrets/api-token``."""
    max_restarts: int = Field(3, ge=0)
    """Crashes of one service in ten minutes (each restarted after a back-off of 1 s, 2 s, 4 s ...)
    before it is marked failed on /health and tried again only after five minutes; the other
    services keep serving throughout."""

    backend: str = "sqlite"
    """Where the suite keeps its data: ``sqlite`` (files under ``var_dir``, the embedded default)
    or ``postgres``: Rasa's tracker, the bank, the news monitor's store and job store and the
    recommender's interactions all on ``database_url`` (``docs/scale.md``)."""
    database_url: Optional[str] = None
    """The PostgreSQL database for ``backend: postgres``, without its password
    (``postgresql://user@host:5432/db``): that comes from ``$NLPSUITE_DB_PASSWORD``."""
    redis_url: Optional[str] = None
    """Redis for Rasa's lock store when several Rasa servers share the tracker
    (``redis://host:6379/0``); the password comes from ``$NLPSUITE_REDIS_PASSWORD``."""
    replicas: Optional[int] = Field(None, ge=1, le=16)
    """Run N Rasa servers and N web servers behind a proxy (HAProxy) on the usual ports, and a
    standby news monitor that takes over when the active one dies; needs ``backend: postgres``
    and ``redis_url``. Unset: one of each, no proxy."""
    replica_port_offset: int = Field(100, ge=1, le=10000)
    """Replica i of a server listens on its port + offset + i (the proxy takes the port itself)."""

    @validator("backend")
    def _known_backend(cls, value):  # noqa: N805 (pydantic validator)
        if value not in ("sqlite", "postgres"):
            raise ValueError(f"unknown backend {value!r}; one of postgres, sqlite")
        return value

    @root_validator(skip_on_failure=True)
    def _scale_out_needs_servers(cls, values):  # noqa: N805 (pydantic validator)
        if values.get("backend") == "postgres" and not values.get("database_url"):
            raise ValueError("backend postgres needs database_url (postgresql://user@host:5432/db)")
        if values.get("database_url") and not str(values["database_url"]).startswith("postgresql"):
            raise ValueError("database_url must be a postgresql:// URL")
        if values.get("replicas"):
            missing = [key for key, ok in (("backend: postgres", values.get("backend") == "postgres"),
                                           ("redis_url", bool(values.get("redis_url")))) if not ok]
            if missing:
                raise ValueError(f"replicas needs {' and '.join(missing)}: replicas share their state there")
        return values

    @validator("profile")
    def _known_profile(cls, value):  # noqa: N805 (pydantic validator)
        from shared.product.classifiers import PROFILE_NAMES

        if value not in PROFILE_NAMES:
            raise ValueError(f"unknown profile {value!r}; one of {', '.join(sorted(PROFILE_NAMES))}")
        return value


    def served_host_names(self) -> list[str]:
        """The ``Host`` names the web app answers: loopback's, ``host``'s and ``allowed_hosts``."""
        return ["127.0.0.1", "localhost", "::1", self.host, *self.allowed_hosts]

    def is_loopback(self) -> bool:
        """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
        import ipaddress

        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def load_settings(config_path=None) -> SuiteSettings:
    """The ``suite`` section of ``config_path`` (environment overrides applied), validated."""
    return load_section(SECTION, SuiteSettings, config_path)
