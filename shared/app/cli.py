"""The ``nlpsuite`` command: the core's subcommands, the suite's, plus those products register.

Products add their own subcommands (``nlpsuite chatbot ...``) through the entry-point group
``nlpsuite.products`` (``Product.commands``: ``register(subparsers)``). The app thereby
never imports a product, and a product that is not installed simply has no subcommand.
Every user error is an ``NlpSuiteError`` (``shared.errors``), caught here once.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import shared  # noqa: F401  (offline, torch-only environment before any HF import)
from shared.errors import NlpSuiteError
from shared.registry import PRODUCTS

logger = logging.getLogger("nlpsuite")

EXIT_BAD_INPUT = 2


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-col", default="text", help="text column (CSV/JSONL); default: text")
    parser.add_argument("--label-col", default="label", help="label column (CSV/JSONL); default: label")
    parser.add_argument("--encoding", default="utf-8", help="file encoding; default: utf-8")


def _load(path: str, options, known_labels=None):
    from shared.data import load_labelled

    return load_labelled(path, options.text_col, options.label_col, encoding=options.encoding,
                         known_labels=known_labels)


def cmd_finetune(options) -> int:
    """`nlpsuite finetune`: fine-tune a classifier on a labelled file; one JSON line of results.
    With ``--nproc N`` the same command runs under torchrun in N data-parallel processes."""
    from shared.training import distributed, finetune
    from shared.training.args import from_cli_options

    if options.nproc > 1 and not distributed.launched_by_torchrun():
        return distributed.launch(options.nproc, distributed.without_option(options.argv, "--nproc"))

    train = _load(options.data, options)
    validation = _load(options.validation, options, known_labels=train.label_names) if options.validation else None
    test = _load(options.test, options, known_labels=train.label_names) if options.test else None
    args = from_cli_options(options)
    result = finetune(train, args, options.out, validation=validation, test=test)
    if not distributed.is_main_process():
        return 0  # rank 0 reports
    summary = {k: result.metrics[k] for k in ("evaluated_on", "accuracy", "macro_f1", "ece")}
    print(json.dumps({"model": str(result.output_dir), "recipe": args.recipe, **summary,
                      "train_seconds": round(result.train_seconds, 1),
                      "train_examples_per_s": result.metrics.get("train_examples_per_s"),
                      "processes": distributed.world_size()}))
    return 0


def cmd_evaluate(options) -> int:
    """`nlpsuite evaluate`: metrics (and plots with --report) of a model folder on a labelled file."""
    from shared.evaluation.report import evaluate_logits
    from shared.inference import Predictor

    predictor = Predictor(options.model, options.backend, threads=options.threads)
    data = _load(options.data, options, known_labels=predictor.labels)
    ids = {label: i for i, label in enumerate(predictor.labels)}
    metrics = evaluate_logits(
        predictor.logits(data.texts), [ids[label] for label in data.labels], predictor.labels,
        temperature=predictor.info.temperature, plot_dir=options.report, name=Path(options.data).stem,
    )
    metrics["evaluated_on"] = str(options.data)
    metrics["backend"] = predictor.backend_name
    if options.report:
        Path(options.report).mkdir(parents=True, exist_ok=True)
        (Path(options.report) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps({k: metrics[k] for k in ("evaluated_on", "backend", "n_examples", "accuracy",
                                              "macro_f1", "ece", "roc_auc_macro")}))
    return 0


def cmd_export(options) -> int:
    """`nlpsuite export`: a model folder to ONNX, optionally int8."""
    from shared.export import export_onnx
    from shared.model_dir import ModelInfo

    out = export_onnx(options.model, options.out, int8=options.int8)
    info = ModelInfo.load(out)
    print(json.dumps({"out": str(out), "onnx_file": info.onnx_file,
                      "size_mb": round((out / info.onnx_file).stat().st_size / 1e6, 1)}))
    return 0


def cmd_predict(options) -> int:
    """`nlpsuite predict`: classify texts from the arguments or stdin, one JSON object per text."""
    from shared.inference import Predictor

    texts = list(options.texts)
    if not texts or texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin]
    predictor = Predictor(options.model, options.backend, threads=options.threads)
    for prediction in predictor.predict(texts, top_k=options.top_k):
        print(json.dumps(prediction.to_dict(), ensure_ascii=False))
    return 0


def cmd_models(options) -> int:
    """`nlpsuite models`: the offline registry's pretrained encoders, one JSON object each;
    `nlpsuite models status`: which version of each suite classifier serves (one JSON line each,
    and a sentence on stderr)."""
    if options.what == "status":
        from shared.app.model_status import describe, model_status
        from shared.product.settings import load_settings

        settings = load_settings(options.config)
        status = model_status(settings)
        for name, row in status.items():
            print(json.dumps({"task": name, **row}))
            print(describe(name, row), file=sys.stderr)
        if not status:
            print(f"no classifier serves under {Path(settings.var_dir).resolve() / 'models'} yet: `nlpsuite run` "
                  "trains them", file=sys.stderr)
        return 0
    from shared.models import available_models

    for row in available_models():
        print(json.dumps(row))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the core's commands, the suite's, and every installed product's."""
    parser = argparse.ArgumentParser(prog="nlpsuite", description="Fine-tune, evaluate, export and serve small language models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from shared.training.args import add_cli_options

    p = sub.add_parser("finetune", help="fine-tune a classifier on a labelled CSV/JSONL/Rasa YAML file")
    p.add_argument("--data", required=True, help="training file (.csv, .jsonl or Rasa NLU .yml)")
    p.add_argument("--validation", help="validation file; default: 10%% held out from --data")
    p.add_argument("--test", help="test file; metrics.json reports on it when given")
    _add_data_options(p)
    p.add_argument("--out", required=True, help="output model folder")
    p.add_argument("--nproc", type=int, default=1,
                   help="data-parallel processes under torchrun (gloo on CPU, NCCL on GPU); default 1")
    add_cli_options(p)
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("evaluate", help="metrics of a model folder on a labelled file")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    _add_data_options(p)
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--report", help="folder for metrics.json and the confusion-matrix and ROC plots")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="export a model folder to ONNX (optionally int8)")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--int8", action="store_true", help="also write a dynamically quantized int8 graph and serve it")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="classify texts; one JSON object per text")
    p.add_argument("--model", required=True)
    p.add_argument("texts", nargs="*", help="texts, or - (or nothing) to read one per line from stdin")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_predict)

    _add_models_command(sub)

    _add_suite_commands(sub)
    _add_token_command(sub)
    for _, product in PRODUCTS.items():
        product.register_commands(sub)
    return parser


def _add_suite_commands(sub) -> None:
    """The suite's commands, each registered by its own module: run, batch, config, device, migrate."""
    from shared.app.runner import register as register_run

    register_run(sub)
    from shared.app.batch import register as register_batch

    register_batch(sub)
    from shared.app.config_check import register as register_config

    register_config(sub)
    from shared.app.device import register as register_device

    register_device(sub)
    from shared.app.migrate import register as register_migrate

    register_migrate(sub)


def _add_token_command(sub) -> None:
    p = sub.add_parser("token", help="print the API token the suite's write and admin endpoints require")
    p.add_argument("--config", help="suite config file (default: $NLPSUITE_CONFIG or ./nlpsuite.yml)")
    p.set_defaults(func=cmd_token)


def _add_models_command(sub) -> None:
    p = sub.add_parser("models", help="the offline registry's pretrained models; `status`: what the suite serves")
    p.add_argument("what", nargs="?", choices=["list", "status"], default="list",
                   help="list (default): the registry; status: the suite's classifier versions and their upgrade")
    p.add_argument("--config", help="suite config file (default: $NLPSUITE_CONFIG or ./nlpsuite.yml)")
    p.set_defaults(func=cmd_models)


def cmd_token(options) -> int:
    """`nlpsuite token`: print the API token (made now if the suite has none yet)."""
    from shared.product.token import suite_api_token

    print(suite_api_token(options.config))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error (NlpSuiteError) is one line on stderr and exit status 2."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parser.parse_args(argv)
    options.argv = argv  # `finetune --nproc` starts the same command again under torchrun
    from shared.app.logging_setup import configure_logging

    configure_logging(logging.DEBUG if options.verbose else None)
    try:
        result = options.func(options)
        from shared.product.services import ServeRequest

        if isinstance(result, ServeRequest):  # a product's `serve`: the app runs its servers
            from shared.app.serve import serve

            return serve(result)
        return result or 0
    except NlpSuiteError as exc:
        print(f"nlpsuite {options.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
