"""One short end-to-end fit with the real MiniLM-L6 (marked slow): item texts that mean the same
topic, without shared tag words, must still be retrieved for that topic's users."""
from __future__ import annotations

import random

import pytest

from recommender.data import Interaction, Item
from recommender.model import FitConfig, Recommender, fit

TOPICS = {
    "astronomy": ["The rings of Saturn explained", "How black holes bend light", "A field guide to the Milky Way",
                  "Why Mars has two moons", "Telescopes for beginners", "The life and death of stars",
                  "Comets and where they come from", "Mapping the night sky"],
    "baking": ["Sourdough bread from scratch", "The perfect chocolate chip cookie", "Flaky butter croissants",
               "A simple sponge cake", "Cinnamon rolls for a Sunday morning", "Rustic apple pie",
               "Gluten-free banana bread", "Baguettes in a home oven"],
    "gardening": ["Growing tomatoes on a balcony", "Pruning roses in winter", "Composting kitchen scraps",
                  "A beginner's vegetable patch", "Keeping slugs off lettuce", "Planting tulip bulbs",
                  "Watering houseplants properly", "Raised beds for small gardens"],
}


@pytest.mark.slow
def test_minilm_recommender_end_to_end(tmp_path):
    rng = random.Random(3)
    items, topic_of = [], {}
    for topic, titles in TOPICS.items():
        for n, title in enumerate(titles):
            items.append(Item(f"{topic}-{n}", title))
            topic_of[f"{topic}-{n}"] = topic
    interactions, users = [], {}
    for topic in TOPICS:
        pool = [i.id for i in items if topic_of[i.id] == topic]
        for u in range(6):
            user = f"{topic}-{u}"
            users[user] = topic
            for step, item in enumerate(rng.sample(pool, 3)):
                interactions.append(Interaction(user, item, "click", 1_700_000_000 + step * 3600))
    config = FitConfig(finetune_encoder=False, scorer_users=18, scorer_max_steps=6, scorer_batch_size=16,
                       candidates=10, validation_share=0.34, threads=2, progress=False)
    fit(items, interactions, tmp_path / "model", config)
    model = Recommender.load(tmp_path / "model", threads=1)
    assert model.scorer is not None
    hits = total = 0
    for user, topic in users.items():
        result = model.recommend(user, 3, mode="retrieval")
        hits += sum(topic_of[e["item"]] == topic for e in result["items"])
        total += 3
        assert model.recommend(user, 3)["items"][0]["reason"].startswith("because you liked ")
    assert hits / total >= 0.9  # a random pick would be right a third of the time
