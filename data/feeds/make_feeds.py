"""Build the monitor's offline demo feeds from the Financial PhraseBank TEST part.

Only the test part is used (never train or validation), so a model fine-tuned on the
PhraseBank is never shown its own training sentences by the demo. The 485 test sentences are
dealt round-robin into four RSS 2.0 files; each item's guid is the sentence's row id in
data/financial_phrasebank/sentences_50agree.csv. Items carry no pubDate: the monitor then
counts them at the time it first sees them. Run from the repository root:

    .venv/bin/python data/feeds/make_feeds.py
"""
from __future__ import annotations

import sys
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import shared  # noqa: E402,F401
from shared.data import load_phrasebank  # noqa: E402

FEEDS = ["nordic-wire", "market-news", "company-briefs", "business-daily"]
BUILD_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)  # fixed, so rebuilding gives identical files


def rss(name: str, items: list[tuple[int, str]]) -> str:
    body = "".join(
        f"    <item>\n      <title>{escape(text)}</title>\n"
        f"      <guid isPermaLink=\"false\">phrasebank-{row}</guid>\n    </item>\n" for row, text in items)
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\">\n  <channel>\n"
            f"    <title>{escape(name)} (demo: Financial PhraseBank test part)</title>\n"
            "    <link>https://huggingface.co/datasets/takala/financial_phrasebank</link>\n"
            "    <description>Demo feed for nlpsuite finsentiment; sentences by Malo et al. 2014, CC BY-NC-SA 3.0"
            "</description>\n"
            f"    <lastBuildDate>{format_datetime(BUILD_DATE)}</lastBuildDate>\n{body}  </channel>\n</rss>\n")


def main() -> None:
    test = load_phrasebank(ROOT / "data" / "financial_phrasebank")["test"]
    rows = list(zip(test.lines, test.texts))
    out = Path(__file__).resolve().parent
    for i, name in enumerate(FEEDS):
        items = [(line - 2, text) for line, text in rows[i::len(FEEDS)]]  # line 1 is the header
        (out / f"{name}.xml").write_text(rss(name, items), encoding="utf-8")
        print(f"{name}.xml: {len(items)} items")


if __name__ == "__main__":
    main()
