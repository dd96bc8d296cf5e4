"""The classifiers `make run` serves, built the way `nlpsuite run` builds them (the first
version, ``shared.app.quickstart.ensure_serving``: the probe recipe), for the tests that must
hold on exactly those models: the chatbot's test stories and webhook conversations, the
end-to-end demo alert.

Each is trained once per machine and kept in pytest's cache folder as a versions folder, under
a key made of everything that decides it (the data files, the first version's hyperparameters,
the core's training code); a fresh clone (CI) trains them once, about a minute each on 2 cores.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from core_testlib import REPO

INPUTS = {
    "intents": ["data/banking77/*.csv", "data/banking77/categories.json", "chatbot/template/data/core_nlu.yml",
                "chatbot/banking77.py",
                "data/chatbot/own_intents_test.csv", "data/chatbot/unknown_requests.csv", "chatbot/intents.py"],
    "phrasebank": ["data/financial_phrasebank/*.csv", "finsentiment/suite.py", "finsentiment/phrasebank.py"],
}
CODE = ["shared/training/*.py", "shared/data/*.py", "shared/models/*.py", "shared/export/*.py", "shared/deploy.py",
        "shared/inference/*.py", "shared/evaluation/*.py", "shared/model_versions.py", "shared/app/quickstart.py"]


def _key(name: str, args) -> str:
    digest = hashlib.sha256(repr(args).encode())
    for pattern in INPUTS[name] + CODE:
        for path in sorted(REPO.glob(pattern)):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def quick_model(name: str, cache_dir: Path) -> Path:
    """The versions folder of the suite's ``name`` classifier, serving the version a first
    `nlpsuite run` serves (trained if missing)."""
    from shared.app.discovery import classifier_specs, load_parts
    from shared.app.quickstart import ensure_serving, model_root

    spec = next(s for s in classifier_specs(load_parts()) if s.name == name)
    var = Path(cache_dir) / f"{name}-{_key(name, spec.first)}"
    for stale in Path(cache_dir).glob(f"{name}-*"):  # models of older data or code: never used again
        if stale != var:
            shutil.rmtree(stale, ignore_errors=True)
    ensure_serving(spec, "quick", var, threads=None)
    return model_root(name, var)
