"""The ``recommender`` section of the suite's YAML file (used by the web app and the CLI).

    recommender:
      model_dir: var/recommender   # a folder made by `nlpsuite recommender fit`
      threads: 1                    # onnxruntime threads for the relevance scorer
      default_k: 10
"""
from __future__ import annotations

from pydantic import Field

from shared.config import StrictModel, load_section

SECTION = "recommender"


class RecommenderSettings(StrictModel):
    model_dir: str = "var/recommender"
    threads: int = Field(1, ge=1, le=64)
    default_k: int = Field(10, ge=1, le=100)


def load_settings(config_path=None) -> RecommenderSettings:
    return load_section(SECTION, RecommenderSettings, config_path)
