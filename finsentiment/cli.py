"""`nlpsuite finsentiment ...`: run (the daemon), poll-once, classify, report, alerts, demo-resolve."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _config(options):
    from finsentiment.config import load_config

    return load_config(options.config)  # a ConfigError goes up as it is: the CLI's one handler prints it


def _monitor(options):
    from finsentiment.demo import ensure_demo_feeds
    from finsentiment.monitor import Monitor

    config = _config(options)
    ensure_demo_feeds(config)  # the default feeds are the demo story's, dated from the first run
    return Monitor(config)


def cmd_demo_resolve(options) -> int:
    """`nlpsuite finsentiment demo-resolve`: releases the demo story's good news, so the next poll cycle sends
    the RESOLVED mail; refused (CommandError) when the configured feeds are not the demo's."""
    from finsentiment.demo import release_resolution
    from shared.errors import CommandError

    config = _config(options)
    written = release_resolution(config)
    if not written:
        raise CommandError("the configured feeds are not the demo's (finsentiment.demo_dir); nothing to release")
    print(json.dumps({"demo_feeds": [str(p) for p in written],
                      "next": "the next poll cycle (or `nlpsuite finsentiment poll-once`) resolves the alert"}))
    return 0


def _shown(url: str) -> str:
    """A database URL for a log line: never its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_run(options) -> int:
    """`nlpsuite finsentiment run`, the daemon (the suite's ``monitor`` service): loads the model first, so a
    missing one fails before polling starts, then prints the line the suite waits for (suite.READY_LINE)
    and polls until SIGINT or SIGTERM."""
    from finsentiment.scheduler import run_forever

    monitor = _monitor(options)
    monitor.sentiment  # load the model now: a missing model is an error before the daemon starts
    print(f"finsentiment: polling {len(monitor.config.feeds)} feeds every {monitor.config.poll_interval_s:g} s; "
          f"database {_shown(monitor.config.database_url)}; while this monitor holds the scheduler lock; Ctrl-C stops", file=sys.stderr, flush=True)
    run_forever(monitor)
    print("finsentiment: stopped", file=sys.stderr, flush=True)
    return 0


def cmd_poll_once(options) -> int:
    """`nlpsuite finsentiment poll-once`: one whole cycle (fetch, score, alert, mail), its PollReport printed
    as JSON; a missing model is reported before anything is fetched."""
    monitor = _monitor(options)
    monitor.sentiment  # a missing model is reported before anything is fetched
    report = monitor.poll_once()
    print(json.dumps(report.to_dict()))
    return 0


def cmd_classify(options) -> int:
    """`nlpsuite finsentiment classify`: sentiment and topics of texts from the arguments or stdin, one JSON
    line each; nothing is stored. An empty text is refused (CommandError)."""
    from finsentiment.classify import SentimentModel, build_topic_matcher
    from shared.errors import CommandError

    texts = list(options.texts)
    if not texts or texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    empty = [i + 1 for i, t in enumerate(texts) if not t.strip()]
    if empty:
        raise CommandError(f"text {empty[0]} is empty")
    config = _config(options)
    model = SentimentModel(config.model_dir, config.backend, config.threads, config.batch_size)
    topics = build_topic_matcher(config).match(texts)
    for text, sentiment, found in zip(texts, model.classify(texts), topics):
        print(json.dumps({"text": text, "label": sentiment.label, "confidence": round(sentiment.confidence, 4),
                          "probabilities": {k: round(v, 4) for k, v in sentiment.probabilities.items()},
                          "topics": [m.topic for m in found]}, ensure_ascii=False))
    return 0


def cmd_report(options) -> int:
    """`nlpsuite finsentiment report`: a topic's counts per period as a table and a PNG chart (by default in
    reports/ beside the outbox folder), and the current window against the topic's baseline."""
    from finsentiment.store import Store, utcnow
    from finsentiment.trends import chart_png, series, topic_trend
    from shared.errors import CommandError

    config = _config(options)
    if options.days <= 0:
        raise CommandError("--days must be positive")
    topic = config.topic(options.topic).name
    store = Store(config.database_url)
    now = utcnow()
    with store.session() as session:
        points = series(session, topic, now, options.days)
        trend = topic_trend(session, topic, config.alerts, now)
    out = Path(options.out or Path(config.outbox_dir).parent / "reports" / f"{topic.replace(' ', '_')}-{options.days:g}d.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(chart_png(topic, points, config.alerts.negative_share, trend.baseline))
    print(f"{'period start (UTC)':<20} {'articles':>8} {'negative':>8} {'positive':>8} {'neg. share':>10}")
    for p in points:
        share = f"{p.negative_share:.0%}" if p.n_items else "-"
        print(f"{p.start:%Y-%m-%d %H:%M}     {p.n_items:>8} {p.n_negative:>8} {p.n_positive:>8} {share:>10}")
    total = sum(p.n_items for p in points)
    negative = sum(p.n_negative for p in points)
    print(f"\n{topic}: {total} articles in {options.days:g} days, {negative} negative"
          f" ({negative / total:.0%})" if total else f"\n{topic}: no scored articles in {options.days:g} days")
    print(f"current {config.alerts.window_hours:g} h window: {trend.window.n_items} articles, negative share "
          f"{trend.window.negative_share:.0%}, baseline {trend.baseline:.0%}, spike: {'yes' if trend.spike else 'no'}")
    print(f"chart: {out}")
    return 0


def cmd_alerts(options) -> int:
    """`nlpsuite finsentiment alerts`: the newest alerts and their delivery state (a table, or JSON lines with
    ``--json``), with the last error of those not sent; it only reads the database."""
    from finsentiment.store import Store

    config = _config(options)
    alerts = Store(config.database_url).recent_alerts(options.limit)
    if options.json:
        for a in alerts:
            print(json.dumps({"id": a.id, "topic": a.topic, "kind": a.kind, "status": a.status, "attempts": a.attempts,
                              "created_at": a.created_at.isoformat(), "negative_share": round(a.negative_share, 4),
                              "n_items": a.n_items, "baseline": round(a.baseline, 4), "last_error": a.last_error}))
        return 0
    if not alerts:
        print("no alerts yet")
        return 0
    print(f"{'id':>4}  {'created (UTC)':<16}  {'topic':<24} {'kind':<9} {'status':<8} {'tries':>5}  neg. share")
    for a in alerts:
        print(f"{a.id:>4}  {a.created_at:%Y-%m-%d %H:%M}  {a.topic[:24]:<24} {a.kind:<9} {a.status:<8} "
              f"{a.attempts:>5}  {a.negative_share:.0%} of {a.n_items} (baseline {a.baseline:.0%})")
        if a.last_error and a.status != "sent":
            print(f"      {'refused for good' if a.status == 'failed' else 'last try'}: {a.last_error}")
    return 0


def cmd_backfill(options) -> int:
    """`nlpsuite finsentiment backfill`: scores a news archive on Spark into each topic's daily history (the
    dashboard's history and the alert baselines from day one); prints the summary as JSON."""
    from finsentiment.backfill import backfill

    summary = backfill(_config(options), options.input, master=options.master, id_col=options.id_col,
                       time_col=options.time_col, text_col=options.text_col)
    print(json.dumps(summary))
    return 0


def register(subparsers) -> None:
    """Adds `nlpsuite finsentiment` and its subcommands to the suite's CLI (entry point in
    finsentiment/product.py); every subcommand takes its own ``--config``."""
    parser = subparsers.add_parser("finsentiment", help="financial news sentiment monitor (RSS, topics, spike alerts)")
    commands = parser.add_subparsers(dest="finsentiment_command", metavar="COMMAND")
    commands.required = True

    def add(name, func, help_text):
        p = commands.add_parser(name, help=help_text)
        p.add_argument("--config", help="YAML file with a finsentiment section; default: $NLPSUITE_CONFIG or ./nlpsuite.yml")
        p.set_defaults(func=func)
        return p

    add("run", cmd_run, "the daemon: poll feeds at the configured interval until SIGINT/SIGTERM")
    add("poll-once", cmd_poll_once, "one poll cycle (fetch, score, alert, mail); prints a JSON summary")
    p = add("classify", cmd_classify, "sentiment and topics of texts; one JSON object per text")
    p.add_argument("texts", nargs="*", help="texts, or - (or nothing) to read one per line from stdin")
    p = add("report", cmd_report, "a topic's sentiment trend: a table and a PNG chart")
    p.add_argument("--topic", required=True)
    p.add_argument("--days", type=float, default=7.0)
    p.add_argument("--out", help="PNG path; default: var/finsentiment/reports/<topic>-<days>d.png")
    add("demo-resolve", cmd_demo_resolve,
        "demo: release the story's good earnings news, so the next cycle sends the RESOLVED mail")
    p = add("backfill", cmd_backfill, "score a news archive on Spark and load each topic's daily history "
                                       "(dashboard history, alert baselines from day one)")
    p.add_argument("--input", required=True, help="archive: Parquet, CSV or JSONL (a file, a folder or a glob)")
    p.add_argument("--id-col", default="id")
    p.add_argument("--time-col", default="published", help="ISO 8601 or unix seconds; default: published")
    p.add_argument("--text-col", default="title", help="the headline column; default: title")
    p.add_argument("--master", default="local[2]", help="local[N] or spark://HOST:PORT; default local[2]")
    p = add("alerts", cmd_alerts, "recent alerts and their delivery status")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="one JSON object per alert")
