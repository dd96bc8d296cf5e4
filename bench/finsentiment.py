"""The news monitor's benchmark: classification throughput, one 1,000-item poll cycle, and the
deployed sentiment model's PhraseBank test accuracy.

    python -m bench.finsentiment [--model bench/work/phrasebank-int8]
                                 [--torch-model bench/work/phrasebank] [--items 1000]
    python -m bench.finsentiment --smoke    # < 1 min: a tiny model made here, small counts

Writes bench/results/finsentiment.json (the smoke run writes finsentiment_smoke.json):

- ``headlines_per_s``: PhraseBank test sentences classified per second by the core's Predictor,
  keyed ``<backend>_b<batch size>_t<threads>`` for torch fp32 and onnxruntime int8, batch 1 and
  32, 1 and 2 threads (target: onnx_int8_b32_t2 >= 300);
- ``poll_1000_seconds``: wall time of one poll cycle (read 4 local RSS files, parse, store,
  score, assign topics, evaluate alerts, write the alert mails to an outbox) that brings
  ``--items`` new articles, with the int8 model on 2 threads, model already loaded (target < 10 s);
- ``phrasebank``: accuracy and macro-F1 of the deployed model on the PhraseBank test part.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

import shared  # noqa: F401  (offline, torch-only environment)
from bench.common import ROOT, WORK, update_results
from finsentiment.phrasebank import load_phrasebank

logger = logging.getLogger("bench.finsentiment")

DEFAULT_MODEL = WORK / "phrasebank-int8"  # bench.core's PhraseBank model, exported
DEFAULT_TORCH_MODEL = WORK / "phrasebank"


def throughput(model_dir: Path, backend: str, batch_size: int, threads: int, texts: list[str],
               min_seconds: float) -> float:
    """Texts per second, after a warm-up, repeating the texts until ``min_seconds`` have passed."""
    from shared.inference import Predictor

    predictor = Predictor(model_dir, backend, threads=threads, batch_size=batch_size)
    predictor.predict_proba(texts[:batch_size])
    done, started = 0, time.perf_counter()
    while True:
        if batch_size == 1:
            for text in texts:
                predictor.predict_proba([text])
        else:
            predictor.predict_proba(texts)
        done += len(texts)
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed


def rss_file(path: Path, items: list[tuple[str, str]]) -> None:
    from xml.sax.saxutils import escape

    body = "".join(f"<item><title>{escape(t)}</title><guid isPermaLink='false'>{escape(g)}</guid>"
                   f"<link>https://news.example/{escape(g)}</link></item>" for g, t in items)
    path.write_text("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>bench</title>"
                    f"<link>https://news.example/</link><description>bench</description>{body}</channel></rss>",
                    encoding="utf-8")


def poll_cycle_seconds(model_dir: Path, texts: list[str], n_items: int, threads: int) -> dict:
    """One poll cycle over 4 feed files holding ``n_items`` articles none of which is stored yet."""
    from finsentiment.config import FinSentimentConfig
    from finsentiment.monitor import Monitor

    work = Path(tempfile.mkdtemp(prefix="poll-", dir=WORK))
    items = [(f"bench-{i}", texts[i % len(texts)] + ("" if i < len(texts) else f" (update {i // len(texts)})"))
             for i in range(n_items)]
    feeds = []
    for k in range(4):
        path = work / f"feed-{k}.xml"
        rss_file(path, items[k::4])
        feeds.append({"name": f"feed-{k}", "url": str(path)})
    config = FinSentimentConfig.parse_obj({
        "feeds": feeds, "database_url": f"sqlite:///{work / 'bench.db'}", "outbox_dir": str(work / "outbox"),
        "model_dir": str(model_dir), "backend": "onnx", "threads": threads, "batch_size": 32,
    })
    monitor = Monitor(config)
    monitor.sentiment  # load the model outside the timed cycle: the daemon loads it once
    monitor.topics
    report = monitor.poll_once()
    if report.new_articles != n_items or report.scored != n_items:
        raise RuntimeError(f"poll brought {report.new_articles} new / {report.scored} scored, expected {n_items}")
    return {"seconds": round(report.seconds, 3), "items": n_items, "alerts": report.alerts, "threads": threads}


def phrasebank_metrics(model_dir: Path, threads: int) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    from shared.inference import Predictor

    test = load_phrasebank(ROOT / "data" / "financial_phrasebank")["test"]
    predictor = Predictor(model_dir, "auto", threads=threads)
    predicted = [p.label for p in predictor.predict(test.texts, top_k=1)]
    return {"accuracy": round(float(accuracy_score(test.labels, predicted)), 4),
            "macro_f1": round(float(f1_score(test.labels, predicted, average="macro")), 4),
            "n_examples": len(test), "model": str(model_dir), "backend": predictor.backend_name}


def tiny_models(texts: list[str]) -> tuple[Path, Path]:
    """Smoke mode only: a 2-layer BERT (hidden 64) fine-tuned for a few steps, and its int8 export.
    Its accuracy means nothing; it exercises every code path in seconds."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from shared.export import export_onnx
    from shared.training import FineTuneArgs, finetune

    base = WORK / "finsentiment-smoke" / "base"
    base.mkdir(parents=True, exist_ok=True)
    train = load_phrasebank(ROOT / "data" / "financial_phrasebank")["train"]
    words = sorted({w for t in train.texts[:400] + texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    (base / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    BertTokenizerFast(vocab_file=str(base / "vocab.txt")).save_pretrained(base)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(words) + 5, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=128, max_position_embeddings=128)).save_pretrained(base)
    trained = WORK / "finsentiment-smoke" / "model"
    finetune(train.subset(range(400)), FineTuneArgs(base=str(base), max_steps=15, batch_size=32, learning_rate=2e-3,
                                                    max_length=64, threads=2, progress=False), trained)
    return export_onnx(trained, WORK / "finsentiment-smoke" / "int8", int8=True), trained


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="the deployed int8 ONNX model folder")
    parser.add_argument("--torch-model", default=str(DEFAULT_TORCH_MODEL), help="the same model before export (fp32 torch)")
    parser.add_argument("--items", type=int, default=1000, help="new items in the timed poll cycle")
    parser.add_argument("--threads", default="1,2", help="thread counts to measure")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="measuring time per throughput figure")
    parser.add_argument("--smoke", action="store_true", help="tiny model, small counts; writes finsentiment_smoke.json")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("finsentiment", "transformers", "shared"):
        logging.getLogger(name).setLevel(logging.WARNING)
    WORK.mkdir(parents=True, exist_ok=True)

    texts = load_phrasebank(ROOT / "data" / "financial_phrasebank")["test"].texts
    if options.smoke:
        int8_dir, torch_dir = tiny_models(texts)
        options.items, options.min_seconds, texts_for_speed = 200, 0.3, texts[:64]
    else:
        int8_dir, torch_dir = Path(options.model), Path(options.torch_model)
        texts_for_speed = texts
        for folder in (int8_dir, torch_dir):
            if not (folder / "nlpsuite.json").is_file():
                print(f"bench.finsentiment: {folder} not found: run `python -m bench.core --parts phrasebank` "
                      "first (it fine-tunes and exports the PhraseBank model), or pass --model/--torch-model",
                      file=sys.stderr)
                return 2
    threads = [int(t) for t in options.threads.split(",")]

    speed = {}
    for label, folder, backend in (("torch_fp32", torch_dir, "torch"), ("onnx_int8", int8_dir, "onnx")):
        for batch_size in (1, 32):
            for n in threads:
                key = f"{label}_b{batch_size}_t{n}"
                speed[key] = round(throughput(folder, backend, batch_size, n, texts_for_speed, options.min_seconds), 1)
                logger.info("%s: %.1f headlines/s", key, speed[key])
    poll = poll_cycle_seconds(int8_dir, texts, options.items, threads=max(threads))
    logger.info("poll cycle with %d new items: %.2f s", options.items, poll["seconds"])
    quality = phrasebank_metrics(int8_dir, threads=max(threads))
    logger.info("PhraseBank test: accuracy %.4f, macro-F1 %.4f", quality["accuracy"], quality["macro_f1"])

    section = {
        "headlines_per_s": speed,
        "headlines_per_s_note": "PhraseBank test sentences through shared.inference.Predictor; key = backend_b<batch>_t<threads>",
        f"poll_{options.items}_seconds": poll["seconds"],
        "poll_cycle": poll,
        "phrasebank": quality,
        "targets": {"onnx_int8_b32_t2_min": 300, "poll_1000_seconds_max": 10},
        "smoke": options.smoke,
    }
    path = update_results("finsentiment_smoke" if options.smoke else "finsentiment", section)
    print(json.dumps(section, indent=2))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
