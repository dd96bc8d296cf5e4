"""Recommender test data: a catalogue with a known topic structure (users who only interact with
one topic), a tiny sentence encoder built from its words (no download) and small fit settings.
A plain module (like core_testlib), used by the recommender tests and the suite's end-to-end test."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from recommender.data import Interaction, Item, write_interactions_csv, write_items_csv

TOPICS = {
    "space": ["rocket", "orbit", "galaxy", "planet", "astronaut", "comet", "telescope", "nebula"],
    "cooking": ["pasta", "recipe", "oven", "garlic", "bread", "sauce", "kitchen", "spice"],
    "football": ["goal", "striker", "league", "stadium", "referee", "penalty", "keeper", "derby"],
}
FILLERS = ["guide", "story", "notes", "review", "basics", "weekly", "special", "edition"]
ITEMS_PER_TOPIC = 12
USERS_PER_TOPIC = 10
DAY = 86400


@dataclass(frozen=True)
class Catalogue:
    items: list[Item]
    interactions: list[Interaction]
    topic_of_item: dict[str, str]
    topic_of_user: dict[str, str]
    items_csv: Path
    interactions_csv: Path


def make_catalogue(folder: Path, seed: int = 7) -> Catalogue:
    """Three topics; every user interacts with items of one topic only."""
    rng = random.Random(seed)
    items, topic_of_item = [], {}
    for topic, words in TOPICS.items():
        for n in range(ITEMS_PER_TOPIC):
            w = rng.sample(words, 4)
            item = Item(f"{topic[:2]}{n:02d}", f"{w[0]} {w[1]} {rng.choice(FILLERS)}",
                        f"{w[2]} and {w[3]} {rng.choice(FILLERS)}", (topic,))
            items.append(item)
            topic_of_item[item.id] = topic
    interactions, topic_of_user = [], {}
    events = ["view", "click", "purchase", "share", "comment"]
    start = 1_700_000_000
    for topic in TOPICS:
        pool = [i.id for i in items if topic_of_item[i.id] == topic]
        for u in range(USERS_PER_TOPIC):
            user = f"{topic}-fan-{u}"
            topic_of_user[user] = topic
            for step, item in enumerate(rng.sample(pool, 7)):
                interactions.append(Interaction(user, item, rng.choice(events), start + step * DAY + u * 600))
    rng.shuffle(interactions)
    return Catalogue(items, interactions, topic_of_item, topic_of_user,
                     write_items_csv(folder / "items.csv", items),
                     write_interactions_csv(folder / "interactions.csv", interactions))


def build_tiny_encoder(raw: Path, folder: Path, items) -> Path:
    """A random 2-layer BERT (hidden 32) with a vocabulary of the catalogue's words, saved as a
    sentence-transformers folder with mean pooling (also loadable as a plain HF folder)."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted({w for item in items for w in re.findall(r"\w+|[^\w\s]", item.text.lower())}
                   | {w for ws in TOPICS.values() for w in ws} | set(FILLERS) | {"and", "|"})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(raw / "vocab.txt")).save_pretrained(raw)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=64)
    dimension = getattr(transformer, "get_embedding_dimension", None) or transformer.get_word_embedding_dimension
    pooling = models.Pooling(dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(folder))
    return folder


def tiny_fit_config(tiny_encoder: Path, **overrides):
    from recommender.model import FitConfig

    values = dict(encoder=str(tiny_encoder), encoder_pairs=400, encoder_epochs=3, encoder_batch_size=16,
                  encoder_learning_rate=1e-3, scorer_users=30, scorer_positives=3, scorer_negatives=2,
                  scorer_epochs=4, scorer_learning_rate=1e-3, scorer_batch_size=16, max_length=48,
                  candidates=12, popular_share=0.25, validation_share=0.25, validation_users=30,
                  threads=1, progress=False)
    values.update(overrides)
    return FitConfig(**values)
