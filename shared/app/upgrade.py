"""The live upgrade of `nlpsuite run`: each product's winning recipe, trained while the suite serves.

A first run serves the classifiers' first versions (the probe recipe) within minutes; this job
then trains each classifier's profile recipe (``ClassifierSpec.profiles``, the winner of
``bench.recipe``) and switches the versions folder's pointer to it when it beats the served
version on validation data (``shared.app.quickstart.upgrade``). The servers follow the pointer
without a restart (``shared.model_versions.LiveModel``).

It runs as one of the suite's services, a one-shot job, at the lowest CPU priority (nice 19)
with one thread, so the servers answer first; ``suite.upgrade: off`` leaves it out. A version
trained before (same arguments and data) is not trained again, so a second run is done at
once. Progress goes to ``var/models/<name>/upgrade.json``, which ``/health``, the home page and
``nlpsuite models status`` show.

    python -m shared.app.upgrade --var var --profile quick [--threads 1] [--nice 19]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

STATUS = "upgrade.json"
logger = logging.getLogger("nlpsuite.upgrade")


def write_status(root: Path, **fields) -> None:
    """Record the upgrade's state of one classifier (replaced whole, never half-written)."""
    from shared.atomic import write_text_atomically

    root.mkdir(parents=True, exist_ok=True)
    status = read_status(root) | fields | {"updated": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_text_atomically(root / STATUS, json.dumps(status) + "\n")


def read_status(root: Path) -> dict:
    """The last recorded upgrade state of the classifier in ``root`` ({} when none)."""
    try:
        return json.loads((Path(root) / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def upgrade_all(var_dir: Path, profile: str, threads: int) -> int:
    """Upgrade every declared classifier in turn; how many now serve a new version."""
    from shared.app.discovery import classifier_specs, load_parts
    from shared.app.quickstart import model_root, upgrade

    switched = 0
    for spec in classifier_specs(load_parts()):
        root = model_root(spec.name, var_dir)
        recipe = spec.profiles[profile].recipe
        write_status(root, state="training", recipe=recipe, profile=profile, started=time.time(), threads=threads)
        started = time.perf_counter()
        try:
            version, now_serving = upgrade(spec, profile, var_dir, threads)
        except Exception as exc:
            write_status(root, state="failed", error=f"{type(exc).__name__}: {exc}")
            raise
        switched += now_serving
        write_status(root, state="serving" if now_serving else "kept", version=version.id,
                     minutes=round((time.perf_counter() - started) / 60, 1), score=version.info.score)
    return switched


def main(argv=None) -> int:
    from shared.app.logging_setup import configure_logging

    parser = argparse.ArgumentParser(prog="python -m shared.app.upgrade", description=__doc__.split("\n")[0])
    parser.add_argument("--var", required=True, help="the suite's var folder")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--nice", type=int, default=19, help="CPU niceness added to this process (0: none)")
    options = parser.parse_args(argv)
    configure_logging()
    if options.nice:
        os.nice(options.nice)
    import torch

    torch.set_num_threads(options.threads)
    switched = upgrade_all(Path(options.var).resolve(), options.profile, options.threads)
    logger.info("upgrade done: %d classifier(s) now serve a new version", switched)
    return 0


if __name__ == "__main__":
    sys.exit(main())
