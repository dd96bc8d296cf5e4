"""The ``recommender`` section of the suite's YAML file (used by the web app and the CLI).

    recommender:
      model_dir: var/recommender   # a folder made by `nlpsuite recommender fit`
      threads: 1                    # onnxruntime threads for the relevance scorer
      default_k: 10
      cache_ttl_s: 60               # how long an answer is reused (a user's own new interaction drops it at once)
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from shared.config import StrictModel, load_section

SECTION = "recommender"


class RecommenderSettings(StrictModel):
    """The ``recommender:`` section of the suite config (or ``NLPSUITE__RECOMMENDER__<KEY>``): where the
    served folder is and how each web worker serves it; the fit itself is ``FitConfig``'s."""

    model_dir: str = "var/recommender"
    threads: int = Field(1, ge=1, le=64)
    default_k: int = Field(10, ge=1, le=100)
    cache_ttl_s: float = Field(60.0, ge=0, le=86400)
    """Seconds an answer is reused; other users' new interactions (popularity, co-occurrence)
    reach a cached answer within this time, the user's own at once; 0 turns the cache off."""
    store_url: Optional[str] = None
    """The catalogue and interaction log on a database server (``postgresql://...``, password
    from ``$NLPSUITE_DB_PASSWORD``), shared by web servers on several machines; the first web
    server to start fills it from the folder's ``store.sqlite``. Unset: that file itself.
    `nlpsuite run` sets it to ``suite.database_url`` under ``suite.backend: postgres``."""


def load_settings(config_path=None) -> RecommenderSettings:
    """The validated section; a wrong key or value is a ConfigError naming it."""
    return load_section(SECTION, RecommenderSettings, config_path)
