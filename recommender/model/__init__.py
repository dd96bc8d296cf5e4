"""Fit a recommender folder from a catalogue and a log, load it, and answer "k items for user U".

A recommender folder holds everything needed to serve, and nothing else:

    model.json        the fit configuration, file names and a fit report
    store.sqlite      items and the whole interaction log (grows with POST /interactions)
    index/            the FAISS index of item vectors and its id map
    encoder/          the fine-tuned bi-encoder (absent when the base encoder was used as is)
    scorer/           the relevance scorer as int8 ONNX (absent when fitted without one)
    prefilter.json    the pre-ranking weights (no scorer) fitted on validation
    blend.json        the final ranking weights fitted on validation

Serving is a cascade: a pool of candidates (FAISS neighbours of the profile, popular items
and items that co-occur with the history in other users' logs), pre-ranked by a cheap blend without the scorer (``prefilter.json``); the scorer
reranks the best ``candidates`` (50) of them and the final blend orders those.

Fitting: hold out a share of each user's interactions for validation; fine-tune the
bi-encoder on co-interaction pairs of the rest; embed and index every item; fit the
prefilter on the held-out rows; fine-tune the scorer on hidden-item positives and shortlist
negatives (``_scorer_cases``); fit the final blend on the held-out rows; save with the whole log.

The package, by job: ``config`` (the fit configuration, ``model.json``), ``fitting``
(``fit``), ``serving`` (``Recommender``: load and recommend), and the parts serving puts
together: ``state`` (what a served model knows, and the online updates that grow it without a
refit), ``pool`` (candidate generation), ``features`` (features and the fitted blends),
``rankers`` (one per mode) and ``explain`` (the reason for each pick).
"""
from shared.lazy import lazy_exports

_HOMES = {"MAX_K": "config", "MODEL_FILE": "config", "MODES": "config", "SCOPES": "config", "FitConfig": "config",
          "RecommenderError": "config", "fit": "fitting", "holdout_split": "fitting", "Recommender": "serving"}
__getattr__ = lazy_exports(__name__, _HOMES)  # ``FitConfig`` for the CLI without FAISS or torch

__all__ = ["MAX_K", "MODEL_FILE", "MODES", "SCOPES", "FitConfig", "Recommender", "RecommenderError", "fit", "holdout_split"]
