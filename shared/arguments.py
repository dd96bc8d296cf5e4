"""Hyperparameters declared once: a dataclass whose fields carry their help text, and the CLI
options generated from it.

The pattern of SetFit's ``TrainingArguments`` and sentence-transformers' training arguments:
each field is ``arg(default, "help")``; ``add_options`` turns every field into an argparse
option (its help text and default shown in ``--help``) and ``values_from_options`` reads them back,
so a new hyperparameter is added in its dataclass and nowhere else. ``FineTuneArgs``
(the core's fine-tuning) and the recommender's ``FitConfig`` both use it.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import MISSING, field, fields
from typing import Any, Callable, Iterable

_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def arg(default: Any = MISSING, help: str = "", *, flags: tuple[str, ...] = (), cli: bool = True,
        choices: tuple[str, ...] | None = None, default_factory: Callable[[], Any] | None = None,
        nested: bool = False):
    """A dataclass field with its help text. ``flags``: the CLI spellings (default
    ``--field-name``); ``cli=False``: no option (a mapping, say); ``nested``: a dataclass whose
    own fields become options prefixed with this field's name."""
    metadata = {"help": help, "flags": flags, "cli": cli, "choices": choices, "nested": nested}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def help_of(cls, name: str) -> str:
    """The help text of field ``name`` of the dataclass ``cls``."""
    return next(f.metadata["help"] for f in fields(cls) if f.name == name)


def scalar_type(annotation: str):
    """``int`` for ``"int"`` or ``"int | None"``; the field annotations are strings here."""
    return _TYPES[annotation.replace(" | None", "").strip()]


def convert(annotation: str, value: Any) -> Any:
    """``value`` as the field's scalar type (config files give strings and numbers)."""
    kind = scalar_type(annotation)
    return bool(value) if kind is bool else kind(value)


def _default_of(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default is MISSING and f.default_factory is not MISSING else f.default


def add_options(parser: argparse.ArgumentParser, cls, *, title: str, exclude: Iterable[str] = (),
                prefix: str = "") -> None:
    """One option per field of the dataclass ``cls`` in a group called ``title``. A boolean
    that defaults to False is a switch, one that defaults to True a ``--no-...`` switch; ``none``
    on the command line gives None to an optional field."""
    skip = set(exclude)
    group = parser.add_argument_group(title)
    for f in fields(cls):
        if f.name in skip or not f.metadata.get("cli", True):
            continue
        if f.metadata.get("nested"):
            nested_cls = type(_default_of(f))
            add_options(parser, nested_cls, title=f"{title}: {f.name}", prefix=f"{prefix}{f.name}_")
            continue
        dest = f"{prefix}{f.name}"
        flags = f.metadata.get("flags") or (f"--{dest.replace('_', '-')}",)
        help_text = f.metadata["help"].replace("%", "%%")
        kind = scalar_type(f.type)
        if kind is bool:
            action = "store_false" if f.default else "store_true"
            group.add_argument(*flags, dest=dest, action=action, default=f.default, help=help_text)
            continue
        shown = "none" if f.default is None else f.default
        group.add_argument(*flags, dest=dest, type=_parser_type(f.type), default=f.default,
                           choices=f.metadata.get("choices"), metavar=None if f.metadata.get("choices") else
                           dest.upper(), help=f"{help_text} (default: {shown})")


def _parser_type(annotation: str):
    """The scalar type, and ``none`` accepted where the field is optional."""
    kind = scalar_type(annotation)
    if "None" not in annotation:
        return kind

    def optional(text: str):
        return None if text.lower() == "none" else kind(text)

    optional.__name__ = kind.__name__  # argparse names the type in its error message
    return optional


def values_from_options(cls, options: argparse.Namespace, prefix: str = "") -> dict:
    """The field values ``add_options`` options parsed into (nested dataclasses built too);
    fields without an option are left out, so the dataclass default applies."""
    values = {}
    for f in fields(cls):
        if f.metadata.get("nested"):
            nested_cls = type(_default_of(f))
            values[f.name] = nested_cls(**values_from_options(nested_cls, options, f"{prefix}{f.name}_"))
        elif hasattr(options, f"{prefix}{f.name}"):
            values[f.name] = getattr(options, f"{prefix}{f.name}")
    return values
