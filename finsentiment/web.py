"""The finsentiment product's part of the suite web app (entry point nlpsuite.web)."""
from __future__ import annotations

from fastapi import APIRouter

from shared.web import WebPlugin


def plugin(config_path=None) -> WebPlugin:
    return WebPlugin(name="finsentiment", title="finsentiment", router=APIRouter(), prefix="/finsentiment")
