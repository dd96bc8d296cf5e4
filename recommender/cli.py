"""`nlpsuite recommender ...`: fit, recommend, evaluate, and grow a fitted recommender."""
from __future__ import annotations

import contextlib
import json
import sys
import time


def _report(loaded, limit: int = 20) -> None:
    """Print the rejected rows (they were skipped, the rest is used) to stderr."""
    for error in loaded.errors[:limit]:
        print(f"warning: skipped {error}", file=sys.stderr)
    if len(loaded.errors) > limit:
        print(f"warning: ... and {len(loaded.errors) - limit} more rejected row(s)", file=sys.stderr)
    if loaded.errors:
        print(f"warning: {loaded.summary()}", file=sys.stderr)


def _load_model(options):
    from recommender.model import Recommender

    return Recommender.load(options.model, threads=options.threads)  # ModelFolderError: one line at the edge


def cmd_fit(options) -> int:
    """``recommender fit``: the CSVs checked (bad rows reported by line, not fatal), then ``fit``; the
    one JSON summary goes to stdout and the segment table to stderr, so scripts can parse the result."""
    from recommender.data import load_interactions, load_items
    from recommender.model import FitConfig, fit
    from shared.arguments import values_from_options

    items = load_items(options.items)
    _report(items)
    interactions = load_interactions(options.interactions, known_items={i.id for i in items.rows})
    _report(interactions)
    values = values_from_options(FitConfig, options)
    config = FitConfig(**values | {"scorer_layers": values["scorer_layers"] or None})  # 0: all layers
    # transformers' Trainer prints its logs to stdout without progress bars; stdout is reserved
    # for the one JSON summary line. FolderExistsError reaches the CLI's one handler as it is.
    with contextlib.redirect_stdout(sys.stderr):
        out = fit(items.rows, interactions.rows, options.out, config, overwrite=options.force)
    report = json.loads((out / "model.json").read_text())["report"]
    print(segment_table(report.get("segments", {})), file=sys.stderr)
    print(json.dumps({"model": str(out), "items_rejected": len(items.errors),
                      "interactions_rejected": len(interactions.errors)} | report))
    return 0


def segment_table(decisions: dict) -> str:
    """The fitted segment decision as a few readable lines (the JSON line has it all)."""
    lines = ["final blend per segment (features kept; dropped with what keeping them gained in "
             "validation mean per-user AP):"]
    for name, decision in decisions.items():
        kept = ", ".join(f"{f} {w:+.2f}" for f, w in decision.get("weights", {}).items())
        dropped = ", ".join(f"{d['feature']} ({d['gain_when_kept']:+.4f})" for d in decision.get("dropped", []))
        figures = (f"AP {decision['validation_ap_all']:.4f} -> {decision['validation_ap_kept']:.4f}"
                   if "validation_ap_kept" in decision else decision.get("note", ""))
        lines.append(f"  {name:<12} kept: {kept or '-'}; dropped: {dropped or '-'}; {figures}; "
                     f"{decision.get('positives', 0)} positives of {decision.get('examples', 0)}")
    return "\n".join(lines)


def cmd_recommend(options) -> int:
    """``recommender recommend``: one answer as JSON with the time it took, for trying a folder by hand."""
    model = _load_model(options)
    started = time.perf_counter()
    result = model.recommend(options.user, options.k, mode=options.mode, scope=options.scope)
    result["ms"] = round((time.perf_counter() - started) * 1000, 2)
    print(json.dumps(result, ensure_ascii=False, indent=2 if options.pretty else None))
    return 0


def cmd_evaluate(options) -> int:
    """``recommender evaluate``: ranking metrics on held-out rows, one JSON object per mode, so modes
    compare on the same users."""
    from recommender.data import load_interactions
    from recommender.evaluation import evaluate
    from recommender.model import MODES

    model = _load_model(options)
    test = load_interactions(options.interactions, known_items=set(model.items))
    _report(test)
    modes = list(MODES) if options.mode == "all" else [options.mode]
    print(json.dumps({mode: evaluate(model, test.rows, k=options.k, mode=mode, max_users=options.max_users,
                                     progress=not options.no_progress) for mode in modes}))
    return 0


def cmd_add_interactions(options) -> int:
    """``recommender add-interactions``: a log file appended through the same checks as the live API
    (rows naming unknown items or events are reported, not stored)."""
    from recommender.data import load_interactions

    model = _load_model(options)
    loaded = load_interactions(options.interactions, known_items=set(model.items),
                               events=tuple(model.config.profile.event_weights))
    _report(loaded)
    for row in loaded.rows:
        model.add_interaction(row)
    print(json.dumps({"added": len(loaded.rows), "rejected": len(loaded.errors)}))
    return 0


def cmd_add_items(options) -> int:
    """``recommender add-items``: new or changed items embedded and indexed without a refit."""
    from recommender.data import load_items

    model = _load_model(options)
    loaded = load_items(options.items)
    _report(loaded)
    model.add_items(loaded.rows)
    print(json.dumps({"added": len(loaded.rows), "rejected": len(loaded.errors), "items": len(model.index)}))
    return 0


def cmd_remove_items(options) -> int:
    """``recommender remove-items``: items out of the index and catalogue; their log rows stay."""
    model = _load_model(options)
    removed = model.remove_items(list(options.ids))
    print(json.dumps({"removed": removed, "items": len(model.index)}))
    return 0


def cmd_movielens(options) -> int:
    """Write MovieLens-100K (read from the installed recbole package) as the CSVs ``fit`` takes."""
    from pathlib import Path

    from recommender.data import write_interactions_csv, write_items_csv
    from recommender.movielens import load_movielens100k
    from recommender.splits import stratified_split_by_user

    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    items, interactions = load_movielens100k()
    write_items_csv(out / "items.csv", items)
    written = {"items": str(out / "items.csv")}
    if options.split:
        train, test = stratified_split_by_user(interactions, 0.75, seed=options.seed)
        written["train"] = str(write_interactions_csv(out / "train.csv", train))
        written["test"] = str(write_interactions_csv(out / "test.csv", test))
    else:
        written["interactions"] = str(write_interactions_csv(out / "interactions.csv", interactions))
    print(json.dumps(written | {"note": "MovieLens-100K, GroupLens terms: research use; cite Harper & Konstan 2015"}))
    return 0


def _k(value: str) -> int:
    import argparse

    from recommender.model import MAX_K

    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"k must be an integer, got {value!r}") from None
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"k must be from 1 to {MAX_K}, got {k}")
    return k


def register(subparsers) -> None:
    """``nlpsuite recommender ...``: fit, the answers, and the catalogue and log commands."""
    from recommender.model.config import FitConfig  # light: no torch, FAISS or onnxruntime
    from shared.arguments import add_options

    parser = subparsers.add_parser("recommender", help="the recommender: fit, recommend, evaluate")
    commands = parser.add_subparsers(dest="recommender_command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser("fit", help="fit a recommender folder from an item CSV and an interaction CSV")
    p.add_argument("--items", required=True, help="CSV with id, title[, description, tags]")
    p.add_argument("--interactions", required=True, help="CSV with user, item, event, timestamp[, rating]")
    p.add_argument("--out", required=True, help="the recommender folder to write")
    add_options(p, FitConfig, title="hyperparameters (recommender.model.FitConfig)")
    p.add_argument("--force", action="store_true", help="replace an existing recommender folder: the new one "
                   "is built beside it and switched in when complete, and its interaction log is kept")
    p.set_defaults(func=cmd_fit)

    _register_answers(commands)
    _register_catalogue(commands)


def _register_answers(commands) -> None:
    """``recommend`` and ``evaluate``: what a fitted folder answers, and how well."""
    from recommender.limits import MODES, SCOPES

    p = commands.add_parser("recommend", help="the k best unseen items for a user, as JSON")
    p.add_argument("--model", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("-k", type=_k, default=10, help="how many items (1-100); default 10")
    p.add_argument("--mode", choices=MODES, default="full",
                   help="full (the cascade), retrieval (FAISS alone), cooccurrence (behaviour alone), popularity")
    p.add_argument("--scope", choices=SCOPES, default="all",
                   help="new: only items nobody has interacted with yet (found by their text)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pretty", action="store_true")
    p.set_defaults(func=cmd_recommend)

    p = commands.add_parser("evaluate", help="precision@k, recall@k, MAP, nDCG@k on held-out interactions")
    p.add_argument("--model", required=True)
    p.add_argument("--interactions", required=True, help="test interactions CSV (users' held-out rows)")
    p.add_argument("-k", type=_k, default=10)
    p.add_argument("--mode", choices=[*MODES, "all"], default="all")
    p.add_argument("--max-users", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_evaluate)


def _register_catalogue(commands) -> None:
    """``movielens`` (demo data), and the commands that grow or shrink a fitted folder."""
    p = commands.add_parser("movielens", help="write MovieLens-100K (from the recbole package) as fit's CSVs")
    p.add_argument("--out", required=True, help="folder for items.csv and interactions.csv (or train/test.csv)")
    p.add_argument("--split", action="store_true",
                   help="per-user stratified 75/25 split (Microsoft Recommenders' protocol) into train.csv, test.csv")
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=cmd_movielens)

    p = commands.add_parser("add-interactions", help="append interactions to a fitted recommender")
    p.add_argument("--model", required=True)
    p.add_argument("--interactions", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_add_interactions)

    p = commands.add_parser("add-items", help="embed and index new or changed items (no refit)")
    p.add_argument("--model", required=True)
    p.add_argument("--items", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_add_items)

    p = commands.add_parser("remove-items", help="remove items from the index and the catalogue")
    p.add_argument("--model", required=True)
    p.add_argument("ids", nargs="+")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_remove_items)
