"""A recommender folder's fit configuration and its limits: what ``model.json`` records."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from recommender.limits import MAX_K, MODES, SCOPES  # noqa: F401  (re-exported)
from recommender.profiles import ProfileConfig
from shared.errors import NlpSuiteError

MODEL_FILE = "model.json"


class RecommenderError(NlpSuiteError, ValueError):
    """A request the caller can fix (bad k, unknown item, bad event); HTTP 4xx, CLI exit 2."""


@dataclass
class FitConfig:
    encoder: str = "minilm-l6"
    """Registry name or folder of the bi-encoder (sentence-transformers)."""
    finetune_encoder: bool = True
    encoder_pairs: int = 5000
    encoder_epochs: float = 1.0
    encoder_batch_size: int = 32
    encoder_learning_rate: float = 2e-5
    scorer: bool = True
    scorer_base: str | None = None
    """Base of the cross-encoder; default: the fine-tuned bi-encoder (else ``encoder``)."""
    scorer_users: int = 300
    scorer_positives: int = 2
    scorer_negatives: int = 2
    scorer_epochs: float = 1.0
    scorer_learning_rate: float = 5e-5
    scorer_batch_size: int = 32
    scorer_max_steps: int = -1
    scorer_layers: int | None = 2
    """Keep only the first N encoder layers in the cross-encoder; None: all. Two layers rerank
    50 candidates in about 35 ms at 1 thread (all six: about 200 ms)."""
    max_length: int = 64
    candidates: int = 50
    """Candidates the relevance scorer reranks per request."""
    pool: int = 200
    """Candidates gathered first (FAISS + popular) and pre-ranked without the scorer."""
    popular_share: float = 0.3
    cooccurrence_share: float = 1.0
    """Extra pool candidates, as a share of ``pool``, from item co-occurrence with the history."""
    new_share: float = 0.1
    """Extra pool candidates, as a share of ``pool``: the new items (no interactions yet)
    nearest to the profile, which neither popularity nor co-occurrence can find."""
    cold_item_share: float = 0.1
    """Validation: this share of the items is made new (their training rows hidden and used
    as positives), so the cold-item blend is fitted on what serving a new item looks like."""
    sparse_user_share: float = 0.1
    """Validation: this share of the users keeps only 1-3 training rows (the rest become
    positives), for the sparse-user blend."""
    segment_min_gain: float = 0.002
    """A feature stays in a segment's blend only if it adds at least this much validation
    mean per-user average precision (see recommender.segments)."""
    validation_share: float = 0.15
    validation_users: int = 1000
    index_kind: str = "auto"
    batch_index_search: bool = False
    """Gather concurrent requests' FAISS searches into one call (``MicroBatcher``, 2 ms
    deadline). Off by default: on MovieLens's 1,682-item exact index one search costs less
    than the thread hand-off (1 web worker, 20 clients: 233 requests/s batched, 286 direct;
    docs/recommender.md); worth trying on a large HNSW index, where a search costs more."""
    engine: str = "inprocess"
    """Where the catalogue is embedded: ``inprocess``, or ``spark`` (the core's embed batch job
    on ``spark_master``), for catalogues one process cannot embed in time."""
    spark_master: str = "local[2]"
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    seed: int = 42
    threads: int | None = None
    progress: bool = True

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
