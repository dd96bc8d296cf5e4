"""The recipe benchmark: every recipe of the core, side by side on each task, with seeds.

    python -m bench.recipe --threads 2 [--tasks banking77,phrasebank_cv,intents]
        [--recipes probe,lp-ft,full,contrastive] [--seeds 42,43,44] [--folds 10]

Tasks:
- ``banking77``: BANKING77's train split (10 % held out, stratified by the seed, for early
  stopping, calibration and the choice) scored on its test split.
- ``phrasebank_cv``: the Financial PhraseBank (50 % agree) under the anchors' protocol: 10-fold
  stratified cross-validation, as FinBERT and FinPerceiver report it. Folds are made over the
  distinct sentences (the 50-agree file repeats a few), so no sentence is both trained and
  tested on; 10 % of each training part is held out for validation.
- ``intents``: the chatbot's own task as `nlpsuite run` trains it (BANKING77 plus the bot's
  intents with typo copies), scored on BANKING77's test split plus the bot's own test phrasings.

Every run records accuracy and macro-F1 on the test part, validation macro-F1, the wall seconds
of the whole ``finetune`` call (features, fitting, training, calibration, scoring) and its
threads. Runs are appended to ``bench/work/recipe/runs.jsonl`` as they end, so an interrupted
benchmark keeps what it measured and ``--reuse`` skips it; ``bench/results/recipe.json`` is
rebuilt from that file after each run: per task, each recipe's means and per-seed figures, and
the ``chosen`` recipe: the best mean validation macro-F1, unless a cheaper recipe is within
``TIE`` of it (then the cheaper one earns its place); ``why`` says it in figures.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import shared  # noqa: F401  (offline, torch-only environment)
from bench.common import WORK, update_results
from shared.training import FineTuneArgs

logger = logging.getLogger("bench.recipe")
RUNS = WORK / "recipe" / "runs.jsonl"
TIE = 0.002
"""A recipe more expensive than another must beat it by more than this validation macro-F1."""

_LP_FT = {"recipe": "lp-ft", "epochs": 2, "learning_rate": 2e-5, "head_learning_rate": 2e-4, "batch_size": 32,
          "warmup_ratio": 0.1, "weight_decay": 0.01, "keep_best": False}
_CONTRASTIVE = {"recipe": "contrastive", "contrastive_pairs": 2, "contrastive_epochs": 1.0,
                "contrastive_learning_rate": 2e-5, "batch_size": 32}


def _task_args(task: str) -> FineTuneArgs:
    """What belongs to the task, not the recipe: sequence length, typo copies, spelling."""
    from chatbot.intents import TYPOS

    return {"banking77": FineTuneArgs(max_length=64),
            "intents": FineTuneArgs(max_length=48, **TYPOS),
            "phrasebank_cv": FineTuneArgs(max_length=80)}[task]


def _full_args(task: str) -> dict:
    """The full fine-tune each task had before the recipes: bench.core's published BANKING77
    run, the quick intent model `make run` used to serve, the PhraseBank full profile's rate
    for three epochs (ten folds of it fit an afternoon)."""
    return {"banking77": {"epochs": 10, "learning_rate": 1e-4, "batch_size": 32, "warmup_ratio": 0.1,
                          "early_stopping_patience": 3},
            "intents": {"epochs": 2, "learning_rate": 1e-4, "batch_size": 32, "early_stopping_patience": 1},
            "phrasebank_cv": {"epochs": 3, "learning_rate": 5e-5, "batch_size": 16, "warmup_ratio": 0.1,
                              "early_stopping_patience": 1}}[task]


def recipe_args(task: str, recipe: str) -> FineTuneArgs:
    """The hyperparameters of ``recipe`` on ``task``."""
    overrides = {"probe": {"recipe": "probe"}, "full": _full_args(task), "lp-ft": _LP_FT,
                 "contrastive": _CONTRASTIVE}[recipe]
    if task == "phrasebank_cv" and recipe == "contrastive":
        overrides = overrides | {"contrastive_pairs": 4}  # 3 labels: fewer distinct pairs per example
    return dataclasses.replace(_task_args(task), **overrides)


def _banking77_splits(fold: int | None, n_folds: int) -> dict:
    from chatbot.banking77 import load_banking77

    data = load_banking77()
    return {"train": data["train"], "test": data["test"]}


def _intent_splits(fold: int | None, n_folds: int) -> dict:
    from chatbot.intents import load_intent_data

    return load_intent_data()


def phrasebank_folds(n_folds: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """(train indices, test indices) of each fold, over the distinct sentences (first label kept)."""
    from sklearn.model_selection import StratifiedKFold

    data = _phrasebank_distinct()
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(list(train), list(test)) for train, test in folds.split(data.texts, data.labels)]


def _phrasebank_distinct():
    from finsentiment.phrasebank import PHRASEBANK
    from shared.data import load_labelled

    data = load_labelled(PHRASEBANK / "sentences_50agree.csv", text_col="content", label_col="label")
    first = {}
    for i, text in enumerate(data.texts):
        first.setdefault(text, i)
    return data.subset(sorted(first.values()))


def _phrasebank_splits(fold: int | None, n_folds: int) -> dict:
    data = _phrasebank_distinct()
    train, test = phrasebank_folds(n_folds)[fold]
    return {"train": data.subset(train), "test": data.subset(test)}


SPLITS = {"banking77": _banking77_splits, "intents": _intent_splits, "phrasebank_cv": _phrasebank_splits}


def _recorded(args: FineTuneArgs) -> dict:
    """The hyperparameters a run records (and is matched by): all but the run's own seed and threads."""
    return {k: v for k, v in args.to_dict().items() if k not in ("progress", "threads", "seed", "tensorboard")}


def run_one(task: str, recipe: str, seed: int, fold: int | None, threads: int, n_folds: int = 10) -> dict:
    """One ``finetune`` in a temporary folder; its figures."""
    from shared.training import finetune

    splits = dict(SPLITS[task](fold, n_folds))
    args = dataclasses.replace(recipe_args(task, recipe), seed=seed, threads=threads, tensorboard=False)
    with tempfile.TemporaryDirectory(prefix=f"bench-recipe-{task}-") as tmp:
        started = time.perf_counter()
        result = finetune(splits.pop("train"), args, Path(tmp) / "model", **splits)
        seconds = time.perf_counter() - started
    return {"task": task, "recipe": recipe, "seed": seed, "fold": fold, "folds": n_folds if fold is not None else None,
            "accuracy": round(result.metrics["accuracy"], 4), "macro_f1": round(result.metrics["macro_f1"], 4),
            "validation_macro_f1": round(result.validation_metrics["macro_f1"], 4),
            "validation_accuracy": round(result.validation_metrics["accuracy"], 4),
            "seconds": round(seconds, 1), "threads": threads, "n_test": result.metrics["n_examples"],
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "hyperparameters": _recorded(args)}


def load_runs() -> list[dict]:
    """Every run recorded with today's hyperparameters of its task and recipe (a run made with
    others, before a change of ``recipe_args``, no longer counts)."""
    if not RUNS.is_file():
        return []
    runs = [json.loads(line) for line in RUNS.read_text().splitlines() if line.strip()]
    return [r for r in runs if r["hyperparameters"] == _recorded(recipe_args(r["task"], r["recipe"]))]


def _mean(values) -> float:
    return round(statistics.fmean(values), 4)


def summarise_recipe(runs: list[dict]) -> dict:
    """Means over seeds (and folds: a seed's figure is its mean over folds), with per-seed figures."""
    by_seed: dict[int, list[dict]] = {}
    for run in runs:
        by_seed.setdefault(run["seed"], []).append(run)
    per_seed = {seed: {key: _mean(r[key] for r in rows) for key in
                       ("accuracy", "macro_f1", "validation_macro_f1", "seconds")} | {"folds": len(rows)}
                for seed, rows in sorted(by_seed.items())}
    summary = {key: _mean(s[key] for s in per_seed.values())
               for key in ("accuracy", "macro_f1", "validation_macro_f1", "seconds")}
    if len(per_seed) > 1:
        summary["accuracy_sd"] = round(statistics.stdev(s["accuracy"] for s in per_seed.values()), 4)
    return summary | {"threads": sorted({r["threads"] for r in runs}), "seeds": sorted(per_seed),
                      "per_seed": {str(k): v for k, v in per_seed.items()},
                      "hyperparameters": runs[-1]["hyperparameters"]}


def choose(recipes: dict) -> tuple[str, str]:
    """The recipe a product should default to, and why, in figures (see the module docstring)."""
    best = max(recipes, key=lambda name: recipes[name]["validation_macro_f1"])
    chosen = best
    for name in sorted(recipes, key=lambda n: recipes[n]["seconds"]):
        if recipes[name]["validation_macro_f1"] >= recipes[best]["validation_macro_f1"] - TIE:
            chosen = name
            break
    c, b = recipes[chosen], recipes[best]
    others = ", ".join(f"{n} {r['validation_macro_f1']:.4f} in {r['seconds']:.0f} s"
                       for n, r in sorted(recipes.items()) if n != chosen)
    why = (f"{chosen}: mean validation macro-F1 {c['validation_macro_f1']:.4f} in {c['seconds']:.0f} s "
           f"(threads {c['threads']})")
    if chosen != best:
        why += (f"; {best} is higher by {b['validation_macro_f1'] - c['validation_macro_f1']:.4f}, within the "
                f"{TIE} tie margin, for {b['seconds'] / max(c['seconds'], 1e-9):.1f}x the time")
    return chosen, f"{why}; others: {others or 'none run'}"


def rebuild_results() -> dict:
    """``tasks`` of recipe.json from every run so far."""
    tasks: dict[str, dict] = {}
    for run in load_runs():
        tasks.setdefault(run["task"], {}).setdefault(run["recipe"], []).append(run)
    out = {}
    for task, recipes in sorted(tasks.items()):
        summaries = {name: summarise_recipe(runs) for name, runs in sorted(recipes.items())}
        chosen, why = choose(summaries)
        out[task] = {"recipes": summaries, "chosen": chosen, "why": why}
    update_results("recipe", {"tasks": out, "tie_margin": TIE})
    return out


def _done(task: str, recipe: str, seed: int, fold: int | None) -> bool:
    return any((r["task"], r["recipe"], r["seed"], r["fold"]) == (task, recipe, seed, fold) for r in load_runs())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime threads of every run")
    parser.add_argument("--tasks", default="banking77,intents,phrasebank_cv")
    parser.add_argument("--recipes", default="probe,lp-ft,full,contrastive")
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--folds", type=int, default=10, help="cross-validation folds of phrasebank_cv")
    parser.add_argument("--fold-limit", type=int, default=None, help="run only the first N folds (a partial CV)")
    parser.add_argument("--reuse", action="store_true", help="skip runs already in bench/work/recipe/runs.jsonl")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    RUNS.parent.mkdir(parents=True, exist_ok=True)
    for task in options.tasks.split(","):
        folds = list(range(options.fold_limit or options.folds)) if task == "phrasebank_cv" else [None]
        for recipe in options.recipes.split(","):
            for seed in (int(s) for s in options.seeds.split(",")):
                for fold in folds:
                    if options.reuse and _done(task, recipe, seed, fold):
                        continue
                    run = run_one(task, recipe, seed, fold, options.threads, options.folds)
                    with RUNS.open("a") as f:
                        f.write(json.dumps(run) + "\n")
                    logger.info("%s %s seed %d fold %s: accuracy %.4f macro-F1 %.4f (validation %.4f) in %.0f s",
                                task, recipe, seed, fold, run["accuracy"], run["macro_f1"],
                                run["validation_macro_f1"], run["seconds"])
                    rebuild_results()


if __name__ == "__main__":
    main()
