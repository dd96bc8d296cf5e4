"""Build the news monitor's demo story (data/feeds/story.csv) from the Financial PhraseBank
TEST part, so that `make run` mails a real alert within minutes.

Only the test part is used (never train or validation), so a model fine-tuned on the
PhraseBank is never shown its own training sentences by the demo. The story, in time:

- history, 7 days to 6 hours before the demo starts: every other test sentence, dealt into four
  feeds at even intervals. Each topic's negative share there is its usual one (11 % overall);
- spike, the last 3 hours: ``SPIKE_NEGATIVE`` negative and ``SPIKE_OTHER`` other sentences of
  the topic "Earnings" (profits, sales, results) that name no other demo topic: earnings season
  turns sour;
- resolve, released by `nlpsuite finsentiment demo-resolve`: ``RESOLVE_ITEMS`` neutral and
  positive Earnings sentences, dated when they are released.

The sentences are chosen by their gold labels only; whether an alert fires is decided by the
monitor's model scoring them and by the alert rule, as for real news. The file holds offsets
in minutes, not dates: finsentiment.demo renders the feeds with dates relative to the time the
demo starts. Run from the repository root:

    .venv/bin/python data/feeds/make_feeds.py
"""
from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import shared  # noqa: E402,F401
from finsentiment.classify import build_topic_matcher  # noqa: E402
from finsentiment.config import FinSentimentConfig  # noqa: E402
from finsentiment.phrasebank import load_phrasebank  # noqa: E402

FEEDS = ["nordic-wire", "market-news", "company-briefs", "business-daily"]
SPIKE_TOPIC = "Earnings"
SPIKE_NEGATIVE, SPIKE_OTHER, RESOLVE_ITEMS = 10, 4, 24
HISTORY_START, HISTORY_END, SPIKE_START = -7 * 24 * 60, -6 * 60, -3 * 60  # minutes from the start
SEED = 42


def main() -> None:
    test = load_phrasebank(ROOT / "data" / "financial_phrasebank")["test"]
    rows = [(line - 2, text, label) for line, text, label in zip(test.lines, test.texts, test.labels)]
    matcher = build_topic_matcher(FinSentimentConfig())
    topics = [{m.topic for m in found} for found in matcher.match([text for _, text, _ in rows])]
    only_spike_topic = [i for i, t in enumerate(topics) if t == {SPIKE_TOPIC}]
    rng = random.Random(SEED)
    negative = [i for i in only_spike_topic if rows[i][2] == "negative"]
    other = [i for i in only_spike_topic if rows[i][2] != "negative"]
    rng.shuffle(negative)
    rng.shuffle(other)
    spike = negative[:SPIKE_NEGATIVE] + other[:SPIKE_OTHER]
    resolve = other[SPIKE_OTHER:SPIKE_OTHER + RESOLVE_ITEMS]
    if len(spike) < SPIKE_NEGATIVE + SPIKE_OTHER or len(resolve) < RESOLVE_ITEMS:
        raise SystemExit(f"not enough {SPIKE_TOPIC} sentences for the story")
    rng.shuffle(spike)
    reserved = set(spike) | set(resolve)
    history = [i for i in range(len(rows)) if i not in reserved]

    story = []
    step = (HISTORY_END - HISTORY_START) / len(history)
    for n, i in enumerate(history):
        story.append(("history", FEEDS[n % len(FEEDS)], round(HISTORY_START + n * step), i))
    step = -SPIKE_START / len(spike)
    for n, i in enumerate(spike):
        story.append(("spike", FEEDS[n % len(FEEDS)], round(SPIKE_START + n * step), i))
    for n, i in enumerate(resolve):
        story.append(("resolve", FEEDS[n % len(FEEDS)], 0, i))
    out = Path(__file__).resolve().parent / "story.csv"
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["phase", "feed", "minutes", "guid", "gold", "title"])
        for phase, feed, minutes, i in story:
            row, text, label = rows[i]
            writer.writerow([phase, feed, minutes, f"phrasebank-{row}", label, text])
    counts = {p: sum(1 for s in story if s[0] == p) for p in ("history", "spike", "resolve")}
    print(f"{out}: {counts}")


if __name__ == "__main__":
    main()
