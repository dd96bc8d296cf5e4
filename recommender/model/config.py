"""A recommender folder's fit configuration and its limits: what ``model.json`` records."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from recommender.errors import FolderExistsError, RecommenderError  # noqa: F401  (re-exported)
from recommender.limits import MAX_K, MODES, SCOPES  # noqa: F401  (re-exported)
from recommender.profiles import ProfileConfig
from shared.arguments import arg

MODEL_FILE = "model.json"




@dataclass
class FitConfig:
    """Every choice ``fit`` makes, declared once with its help text (``recommender fit --help``
    shows them all, generated from these fields); ``model.json`` records the values a folder
    was fitted with, and serving reads its limits (pool, candidates, shares) from there."""

    encoder: str = arg("minilm-l6", "bi-encoder that embeds the item texts: a registry name or a folder "
                                    "(sentence-transformers)")
    finetune_encoder: bool = arg(True, "fine-tune the bi-encoder on co-interaction pairs before indexing; "
                                       "off: use it as it is", flags=("--no-finetune-encoder",))
    encoder_pairs: int = arg(5000, "co-interaction pairs (items one user took one after the other) the "
                                   "bi-encoder is fine-tuned on")
    encoder_pair_min_rating: float | None = arg(
        4.0, "a rated interaction below this is left out of the pairs (a disliked item is no positive); "
             "none keeps every rating")
    encoder_epochs: float = arg(1.0, "passes over the pairs when fine-tuning the bi-encoder")
    encoder_batch_size: int = arg(32, "pairs per batch; the other pairs of a batch are each pair's negatives")
    encoder_learning_rate: float = arg(2e-5, "peak learning rate of the bi-encoder's fine-tune")
    scorer: bool = arg(True, "fit the cross-encoder relevance scorer that reranks the shortlist; off: the "
                             "blends do without it", flags=("--no-scorer",))
    scorer_base: str | None = arg(None, "base of the cross-encoder; none: the fine-tuned bi-encoder (else "
                                        "the encoder)")
    scorer_users: int = arg(300, "users sampled for the scorer's examples (their hidden items are the "
                                 "positives, the shortlist's others the negatives)")
    scorer_positives: int = arg(2, "hidden items per sampled user taken as positives")
    scorer_negatives: int = arg(2, "shortlist negatives per positive")
    scorer_epochs: float = arg(1.0, "passes over the scorer's examples")
    scorer_learning_rate: float = arg(5e-5, "peak learning rate of the scorer's fine-tune")
    scorer_batch_size: int = arg(32, "scorer training batch size")
    scorer_max_steps: int = arg(-1, "stop the scorer's fine-tune after this many steps (-1: the epochs decide)")
    scorer_layers: int | None = arg(
        2, "keep only the first N encoder layers in the scorer; none or 0: all. Two layers rerank 50 "
           "candidates in about 35 ms at 1 thread (all six: about 200 ms)")
    max_length: int = arg(64, "tokens of an item text the encoders read (longer texts are truncated)")
    candidates: int = arg(50, "candidates the relevance scorer reranks per request (the prefilter's shortlist)")
    pool: int = arg(200, "candidates gathered first (FAISS neighbours and popular items) and pre-ranked "
                         "without the scorer")
    popular_share: float = arg(0.3, "share of the pool's FAISS slots given to the most popular unseen items")
    cooccurrence_share: float = arg(1.0, "extra pool candidates, as a share of the pool, from item "
                                         "co-occurrence with the history")
    new_share: float = arg(0.1, "extra pool candidates, as a share of the pool: the new items (no "
                                "interactions yet) nearest to the profile, which only text can find")
    cold_item_share: float = arg(0.1, "validation: this share of the items is made new (training rows hidden, "
                                      "used as positives), so the cold-item blend sees what a new item looks like")
    sparse_user_share: float = arg(0.1, "validation: this share of the users keeps only 1-3 training rows, for "
                                        "the sparse-user blend")
    segment_min_gain: float = arg(0.002, "a feature stays in a segment's blend only if it adds at least this "
                                         "much validation mean per-user average precision (recommender.segments)")
    validation_share: float = arg(0.15, "share of each validation user's interactions held out to fit the blends")
    validation_users: int = arg(1000, "users whose held-out interactions fit the blends")
    index_kind: str = arg("auto", "FAISS index type: auto picks by catalogue size (recommender.index)",
                          choices=("auto", "flat", "hnsw", "ivfpq"))
    batch_index_search: bool = arg(
        False, "gather concurrent requests' FAISS searches into one call (2 ms deadline); worth it on a large "
               "HNSW index only: on MovieLens's 1,682 items one search costs less than the thread hand-off "
               "(docs/recommender.md)")
    engine: str = arg("inprocess", "where the catalogue is embedded: in this process, or by the core's "
                                   "embed batch job on Spark", choices=("inprocess", "spark"))
    spark_master: str = arg("local[2]", "with --engine spark: local[N] or spark://HOST:PORT",
                            flags=("--master", "--spark-master"))
    profile: ProfileConfig = arg(help="how a history becomes a profile (recommender.profiles)",
                                 default_factory=ProfileConfig, nested=True)
    seed: int = arg(42, "seed of every random choice (splits, samples, initialisation)")
    threads: int | None = arg(None, "torch, onnxruntime and FAISS threads; none: their defaults (all cores)")
    progress: bool = arg(True, "show progress bars", flags=("--no-progress",))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["profile"] = self.profile.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "FitConfig":
        data = dict(data)
        profile = ProfileConfig(**data.pop("profile", {}))
        known = set(cls.__dataclass_fields__)
        return cls(profile=profile, **{k: v for k, v in data.items() if k in known})
