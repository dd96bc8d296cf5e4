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
