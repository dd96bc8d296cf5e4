"""The recommender's part in `nlpsuite run`: a recommender fitted on MovieLens-100K (read from
the installed recbole package) in ``var/recommender``, served by the suite's web app
(``/recommender/``, ``GET /recommender/recommend``, ``POST /recommender/interactions``).

The quick profile uses MiniLM as it is and fits no relevance scorer (co-occurrence, popularity
and text similarity blended per segment), so that the whole suite answers within minutes;
``--profile full`` fits the defaults. An existing folder is reused.

After the fit, the ten films of data/recommender/new_arrivals.csv (released after the
MovieLens catalogue, with descriptions) join the catalogue unrated: the page's "New for you"
shelf shows what the text alone finds for a user.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import time
from pathlib import Path

from shared.product import Service, SuiteContext, SuitePart

logger = logging.getLogger(__name__)
NEW_ARRIVALS = Path(__file__).resolve().parents[1] / "data" / "recommender" / "new_arrivals.csv"
# The quick profile trains nothing: MiniLM as it is, and no relevance scorer. The full standard
# fit drops the scorer for warm pairs anyway (docs/recommender.md, segments), and scoring every
# validation user's candidates with it was two of the quick fit's three minutes on 2 cores.
QUICK = {"finetune_encoder": False, "scorer": False}


class RecommenderPart(SuitePart):
    """The recommender in ``nlpsuite run``: fits MovieLens-100K into ``var/recommender`` when no
    folder is there, and serves it through the web workers (no process of its own)."""

    name = "recommender"

    def load_config(self, path=None):
        """This product's section of ``path``, validated (for `nlpsuite config check`)."""
        from recommender.config import load_settings

        return load_settings(path)

    def defaults(self, ctx: SuiteContext) -> dict:
        defaults = {"model_dir": str(ctx.var("recommender"))}
        if ctx.settings.backend == "postgres":  # the interaction log on the suite's database
            defaults["store_url"] = ctx.settings.database_url
        return defaults

    def _fitted(self, ctx: SuiteContext) -> bool:
        from recommender.config import load_settings
        from recommender.model import MODEL_FILE

        return (Path(load_settings(ctx.config_file).model_dir) / MODEL_FILE).is_file()

    def prepare_title(self, ctx: SuiteContext) -> str:
        return ("the recommender: reuse the fitted model" if self._fitted(ctx)
                else "the recommender: fit on MovieLens-100K")

    def prepare_minutes(self, ctx: SuiteContext) -> float:
        return 0.1 if self._fitted(ctx) else (0.7 if ctx.settings.profile == "quick" else 15)

    def prepare(self, ctx: SuiteContext) -> None:
        from recommender.config import load_settings
        from recommender.model import MODEL_FILE, FitConfig, fit
        from recommender.movielens import load_movielens100k

        settings = load_settings(ctx.config_file)
        if (Path(settings.model_dir) / MODEL_FILE).is_file():
            return
        options = QUICK if ctx.settings.profile == "quick" else {}
        config = FitConfig(threads=ctx.settings.threads, **options)
        logger.info("recommender: fitting on MovieLens-100K into %s (%s profile; a few minutes on 2 cores)",
                    settings.model_dir, ctx.settings.profile)
        started = time.perf_counter()
        items, interactions = load_movielens100k()
        with contextlib.redirect_stdout(sys.stderr):  # the Trainer's log lines are not the summary
            fit(items, interactions, settings.model_dir, config)
        add_new_arrivals(settings.model_dir)
        logger.info("recommender: fitted in %.0f s", time.perf_counter() - started)

    def services(self, ctx: SuiteContext) -> list[Service]:
        return []  # served by the suite's web app

    def databases(self, ctx: SuiteContext) -> list:
        """The recommender folder's SQLite store, for `nlpsuite migrate`: the catalogue and the
        interaction log (the fitted model's files stay in the folder)."""
        from shared.product import Database

        def tables():
            from recommender.store import metadata

            return metadata
        return [Database("recommender", ctx.var("recommender", "store.sqlite"), tables)]


def add_new_arrivals(model_dir, path: Path = NEW_ARRIVALS) -> int:
    """Add the demo's unrated new films to a fitted folder; returns how many were added."""
    from recommender.data import load_items
    from recommender.model import Recommender

    loaded = load_items(path)
    for error in loaded.errors:
        logger.warning("%s", error)
    model = Recommender.load(model_dir, threads=1)
    model.add_items(loaded.rows)
    model.store.close()
    logger.info("recommender: %d new arrivals added, unrated (%s)", len(loaded.rows), path.name)
    return len(loaded.rows)


def part() -> RecommenderPart:
    """The ``nlpsuite.products`` entry point's target."""
    return RecommenderPart()
