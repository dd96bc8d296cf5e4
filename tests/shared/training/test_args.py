"""Hyperparameters are declared once (FineTuneArgs) and everything else derives from them:
the CLI's options, the Rasa component's config and the chatbot's settings."""
from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from shared.training.args import FineTuneArgs, add_cli_options, from_cli_options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_cli_options(parser)
    return parser


def test_every_field_has_help_and_a_cli_option_showing_its_default():
    parser = _parser()
    options = {option: action for action in parser._actions for option in action.option_strings}
    for f in fields(FineTuneArgs):
        flags = f.metadata.get("flags") or (f"--{f.name.replace('_', '-')}",)
        for flag in flags:
            assert options[flag].dest == f.name, flag
            assert options[flag].help.startswith(f.metadata["help"].replace("%", "%%")), flag
    text = parser.format_help()
    assert "(default: 5.0)" in text and "(default: minilm-l6)" in text


def test_cli_defaults_are_the_dataclass_defaults_and_options_override_them():
    assert from_cli_options(_parser().parse_args([])) == FineTuneArgs()
    options = _parser().parse_args(["--lr", "3e-3", "--patience", "4", "--no-progress", "--spelling-correction",
                                    "--typo-augmentation", "0.3", "--teacher", "folder"])
    args = from_cli_options(options)
    assert (args.learning_rate, args.early_stopping_patience, args.progress, args.spelling_correction,
            args.typo_augmentation, args.teacher) == (3e-3, 4, False, True, 0.3, "folder")


def test_from_mapping_takes_the_known_keys_and_converts_them():
    args = FineTuneArgs.from_mapping({"epochs": "3", "batch_size": 16.0, "name": "ignored", "teacher": None})
    assert (args.epochs, args.batch_size, args.teacher) == (3.0, 16, None)
    with pytest.raises(TypeError, match="bogus"):
        FineTuneArgs.defaults(bogus=1)
    from shared.config import ConfigError

    with pytest.raises(ConfigError, match="'epochs': 'five' is not a float"):
        FineTuneArgs.from_mapping({"epochs": "five"})


def test_the_rasa_component_offers_every_hyperparameter():
    from chatbot.components import CoreIntentClassifier

    config = CoreIntentClassifier.get_default_config()
    assert set(FineTuneArgs.names()) <= set(config)
    assert FineTuneArgs.from_mapping(config).learning_rate == 1e-4  # the component's own default


def test_chatbot_settings_accept_any_hyperparameter_and_name_a_wrong_key():
    from chatbot.settings import ClassifierSettings

    settings = ClassifierSettings(epochs=40, label_smoothing=0.1, patience=8)  # patience: the old name
    assert settings.hyperparameters() == {"learning_rate": 1e-4, "progress": False, "epochs": 40, "threads": None,
                                          "label_smoothing": 0.1, "early_stopping_patience": 8}
    with pytest.raises(ValueError, match="epoch"):
        ClassifierSettings(epoch=3)
    with pytest.raises(ValueError, match="'epochs': 'five' is not a float"):
        ClassifierSettings(epochs="five")
