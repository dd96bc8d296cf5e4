"""One registry mechanism: decorators in process, entry points for installed packages, an
error that lists the known names."""
from __future__ import annotations

import pytest

from shared.errors import NlpSuiteError
from shared.registry import PRODUCTS, Registry, UnknownNameError


def test_decorator_and_direct_registration():
    colours = Registry("colour")

    @colours.register("red")
    def red():
        return "#f00"

    colours.register("blue", lambda: "#00f")
    assert colours.names() == ["blue", "red"] and colours.get("red") is red and "blue" in colours
    assert [name for name, _ in colours.items()] == ["blue", "red"]


def test_an_unknown_name_lists_the_known_ones():
    colours = Registry("colour")
    colours.register("red", 1)
    with pytest.raises(UnknownNameError, match=r"unknown colour 'green'; known: red") as info:
        colours.get("green")
    assert isinstance(info.value, (KeyError, ValueError, NlpSuiteError))


def test_the_products_come_from_their_one_entry_point_each():
    assert PRODUCTS.names() == ["chatbot", "finsentiment", "recommender"]
    chatbot = PRODUCTS.get("chatbot")
    assert chatbot.suite_part().name == "chatbot"
    assert chatbot.web_plugin().name == "chatbot"


def test_the_core_registries_share_the_mechanism():
    from shared.inference.backends import BACKENDS
    from shared.models.heads import HEADS
    from shared.models.registry import MODELS

    assert {"sequence-classification", "pair-classification"} <= set(HEADS.names())
    assert {"onnx", "torch"} <= set(BACKENDS.names())
    assert "minilm-l6" in MODELS
    assert all(isinstance(r, Registry) for r in (HEADS, BACKENDS, MODELS))
