"""The layers hold and are checked: import-linter's contracts (pyproject.toml) pass on the
tree, fail on a tree with a forbidden import, and cover every package of the core."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("shared", "chatbot", "finsentiment", "recommender")


def _contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(REPO / "pyproject.toml"), "--no-cache"], cwd=root,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)


@pytest.fixture
def tree(tmp_path) -> Path:
    for name in PACKAGES:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "static", "template"))
    return tmp_path


def test_every_core_package_is_under_the_core_contract():
    core = set(next(c for c in _contracts() if c["name"].startswith("The core"))["source_modules"])
    found = {f"shared.{p.stem if p.is_file() else p.name}" for p in (REPO / "shared").iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert found - {"shared.app"} == core, "classify the new module: core (this contract) or app (shared/app)"


def test_the_contracts_hold(tree):
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(_contracts())} kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("shared/data/loading.py", "import shared.app.cli", "The core imports neither the app nor any product"),
    ("shared/training/args.py", "import chatbot.intents", "The core imports neither the app nor any product"),
    ("recommender/scorer.py", "import shared.app.runner", "Products use the core, never the app"),
    ("finsentiment/alerts.py", "import recommender.model", "Products do not import each other"),
    ("shared/app/runner.py", "import finsentiment.monitor", "The app finds products by entry point"),
    ("shared/device/fit.py", "import torch", "The device runtime imports only numpy"),
    ("shared/device/bundle.py", "import shared.errors", "The device runtime imports only numpy"),
])
def test_a_forbidden_import_breaks_its_contract(tree, module, line, broken):
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # a layering mistake\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout, result.stdout


def test_every_product_part_implements_the_suite_part_contract_and_the_app_looks_up_no_hooks():
    """The runner calls SuitePart's hooks directly: each installed product's part subclasses it,
    and no module of the app finds a hook with getattr."""
    import re

    from shared.app.discovery import load_parts
    from shared.product import SuitePart

    parts = load_parts()
    assert {p.name for p in parts} >= {"chatbot", "finsentiment", "recommender"}
    assert all(isinstance(p, SuitePart) for p in parts)
    found = [(path.name, line) for path in (REPO / "shared" / "app").glob("*.py")
             for line in path.read_text().splitlines() if re.search(r"getattr\(part\b", line)]
    assert not found, found


def test_a_part_that_is_not_a_suite_part_is_refused_by_name(monkeypatch):
    from shared.app import discovery

    class Loose:
        name = "loose"

    class Product:
        def suite_part(self):
            return Loose()

    monkeypatch.setattr(discovery, "PRODUCTS", {"loose": Product()})
    with pytest.raises(TypeError, match="product 'loose'.*must subclass shared.product.SuitePart"):
        discovery.load_parts()


# -- size, declarations and docstrings (issue 27) ------------------------------------------------
SOURCE_ROOTS = ("shared", "chatbot", "finsentiment", "recommender", "data")
MAX_CLASS_LINES, MAX_FUNCTION_LINES, MIN_DOCSTRING_SHARE = 200, 60, 0.95


def _sources(roots=SOURCE_ROOTS, base: Path = REPO):
    import ast

    for root in roots:
        for path in sorted((base / root).rglob("*.py")):
            yield path.relative_to(base), ast.parse(path.read_text(encoding="utf-8"))


def _too_long(base: Path = REPO) -> list[str]:
    """Classes over 200 lines and functions over 60, everywhere but bench/ and tests/."""
    import ast

    found = []
    for path, tree in _sources(base=base):
        for node in ast.walk(tree):
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append(f"{path}:{node.lineno} {node.name} is {length} lines (at most {limit})")
    return found


def _undocumented(base: Path = REPO) -> tuple[list[str], int]:
    """The products' public top-level classes and functions without a docstring, and how many there are."""
    import ast

    missing, total = [], 0
    for path, tree in _sources(("chatbot", "finsentiment", "recommender"), base):
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                total += 1
                if not ast.get_docstring(node):
                    missing.append(f"{path}:{node.lineno} {node.name}")
    return missing, total


def test_no_class_or_function_outside_bench_and_tests_is_too_long():
    assert not _too_long(), "\n".join(_too_long())


def test_the_size_check_finds_a_long_function(tmp_path):
    (tmp_path / "shared").mkdir()
    body = "".join(f"    x{n} = {n}\n" for n in range(MAX_FUNCTION_LINES))
    (tmp_path / "shared" / "long.py").write_text(f"def long():\n{body}\n\nclass Short:\n    pass\n")
    for root in SOURCE_ROOTS[1:]:
        (tmp_path / root).mkdir()
    assert [line.split(" ")[1] for line in _too_long(tmp_path)] == ["long"]


def test_the_products_public_names_are_documented():
    missing, total = _undocumented()
    assert total > 200 and 1 - len(missing) / total >= MIN_DOCSTRING_SHARE, "\n".join(missing)


def test_the_docstring_check_counts_a_bare_public_function(tmp_path):
    for root in ("chatbot", "finsentiment", "recommender"):
        (tmp_path / root).mkdir()
    (tmp_path / "chatbot" / "bare.py").write_text('def bare():\n    pass\n\n\ndef told():\n    """Why."""\n\n\n'
                                                  'def _private():\n    pass\n')
    missing, total = _undocumented(tmp_path)
    assert total == 2 and [m.split(" ")[1] for m in missing] == ["bare"]


def test_every_fit_config_field_carries_its_help_and_the_cli_is_generated_from_it():
    """FitConfig declares the recommender's hyperparameters once: each field has help metadata,
    and `recommender fit --help` shows each one (with its default) without writing them out."""
    import argparse
    from dataclasses import fields

    from recommender.cli import register
    from recommender.model.config import FitConfig
    from recommender.profiles import ProfileConfig
    from shared.arguments import values_from_options

    for cls in (FitConfig, ProfileConfig):
        assert all(f.metadata.get("help") for f in fields(cls)), [f.name for f in fields(cls) if not f.metadata]
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    fit = parser._subparsers._group_actions[0].choices["recommender"]._subparsers._group_actions[0].choices["fit"]
    options = {action.dest: action for action in fit._actions}
    for f in fields(FitConfig):
        if f.name == "profile":
            assert {"profile_half_life_days", "profile_context_items"} <= set(options)
            continue
        assert f.name in options, f.name
        assert f.metadata["help"].replace("%", "%%")[:40] in options[f.name].help, f.name
    required = ["recommender", "fit", "--items", "i.csv", "--interactions", "l.csv", "--out", "o"]
    assert FitConfig(**values_from_options(FitConfig, parser.parse_args(required))) == FitConfig()
    parsed = parser.parse_args(required + ["--pool", "300", "--no-scorer", "--profile-context-items", "2"])
    config = FitConfig(**values_from_options(FitConfig, parsed))
    assert (config.pool, config.scorer, config.profile.context_items) == (300, False, 2)
    assert config.candidates == FitConfig().candidates
