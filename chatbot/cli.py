"""`nlpsuite chatbot ...` subcommands, registered through the product's entry point (chatbot/product.py).

    build-data        generate the Rasa project (NLU from BANKING77, FAQ answers, rules, config)
    init-db           create the bank's demo database
    build-index       embed the FAQ questions into the FAISS index the fallback searches
    train             `rasa train` the generated project
    serve             Rasa + action server + web chat page on 127.0.0.1
    export-uncertain  low-confidence user messages from the tracker store, as a CSV to label
    teach             teach the running bot a new intent (or --remove one) in seconds
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def _settings(options):
    """The chatbot's settings; a ConfigError goes up as it is (the CLI's one handler prints it)."""
    from chatbot.settings import load_settings

    return load_settings(options.config)


def cmd_build_data(options) -> int:
    """`nlpsuite chatbot build-data`: writes the Rasa project (``--out``, else ``chatbot.project_dir``; its
    data/ and domain/ are replaced) and prints a JSON summary; a chosen intent without a FAQ answer stops it first."""
    from chatbot.project import build_project

    settings = _settings(options)
    intents = [i.strip() for i in options.intents.split(",") if i.strip()] if options.intents else None
    report = build_project(options.out or settings.project_dir, settings, per_intent=options.per_intent,
                           intents=intents, labels=options.labels, seed=options.seed)
    print(json.dumps({"project": str(report.project_dir), "intents": len(report.intents),
                      "examples": report.examples, "merged_labels": report.merged_labels}))
    return 0


def cmd_init_db(options) -> int:
    """`nlpsuite chatbot init-db`: creates the bank's tables; the demo customers go only into an empty
    database, so running it again adds nothing (``rows_added`` 0) and keeps what the actions changed."""
    from chatbot.bank import Bank, seed_demo

    settings = _settings(options)
    added = seed_demo(Bank(settings.bank_db))
    print(json.dumps({"database": settings.bank_db, "rows_added": added}))
    return 0


def cmd_build_index(options) -> int:
    """`nlpsuite chatbot build-index`: embeds the FAQ questions into a new version of ``chatbot.faq_index``,
    the index the fallback action searches (the action server otherwise builds it on first use when it is
    missing or older than the FAQ table)."""
    from chatbot.faq import FaqIndex, load_faq
    from shared.embeddings import Embedder

    settings = _settings(options)
    index = FaqIndex.build(load_faq(settings.faq), Embedder(settings.embedder))
    folder = index.save(settings.faq_index)
    print(json.dumps({"index": str(folder), "questions": len(index.entries), "dimension": index.index.d}))
    return 0


def cmd_train(options) -> int:
    """`nlpsuite chatbot train`: `rasa train` on a project made by build-data (a folder without config.yml is
    refused with a CommandError); prints the model archive and the seconds training took."""
    from chatbot import server
    from shared.errors import CommandError

    settings = _settings(options)
    project = Path(options.project or settings.project_dir)
    if not (project / "config.yml").is_file():
        raise CommandError(f"{project} is not a generated project; run `nlpsuite chatbot build-data` first")
    started = time.perf_counter()
    model = server.train(project, options.out or settings.models_dir, env=server.rasa_env())
    print(json.dumps({"model": str(model), "train_seconds": round(time.perf_counter() - started, 1)}))
    return 0


def _latest_model(models_dir: Path):
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def cmd_serve(options):
    """`nlpsuite chatbot serve`: the action server, Rasa and the web app with the chat page,
    behind the suite's token; returned to the app, which runs them under its supervisor."""
    from chatbot import server
    from chatbot.project import write_endpoints
    from shared.errors import CommandError
    from shared.product import ServeRequest, SuiteSettings
    from shared.product.settings import load_settings as load_suite_settings
    from shared.product.token import load_api_token

    settings = _settings(options)
    project = Path(settings.project_dir)
    model = Path(options.model) if options.model else _latest_model(Path(settings.models_dir))
    if model is None or not model.is_file():
        raise CommandError(f"no trained model in {settings.models_dir}; run `nlpsuite chatbot train` first")
    suite = load_suite_settings(options.config)
    if not (suite.allow_remote or SuiteSettings(host=settings.host).is_loopback()):
        raise CommandError(f"chatbot.host is {settings.host}, not loopback: that exposes Rasa and the chat page "
                           "on the network; set suite.allow_remote: true to mean it (and put TLS in front)")
    token = load_api_token(suite.var_dir, suite.token_env)
    write_endpoints(project, settings, token_env=suite.token_env)  # Rasa -> actions with the token
    extra = {"NLPSUITE_CONFIG": str(Path(options.config).resolve())} if options.config else {}
    env = server.rasa_env(extra)
    actions = server.actions_service(port=settings.action_port, env=env, cwd=project, token_env=suite.token_env)
    rasa = server.rasa_service(project, model, host=settings.host, port=settings.rasa_port, env=env,
                               token_env=suite.token_env, token=token)
    logs = Path(options.logs)
    web = f"http://{settings.host}:{settings.web_port}"
    return ServeRequest([actions, rasa], logs, env={**extra, suite.token_env: token}, web_host=settings.host,
                        web_port=settings.web_port,
                        ready_message=f"chat page: {web}/chatbot/   Rasa: {server.url(rasa)}   "
                                      f"actions: {server.url(actions)}   logs: {logs}/")


def cmd_export_uncertain(options) -> int:
    """`nlpsuite chatbot export-uncertain`: the review CSV that `build-data --labels` reads back. For a
    tracker store on a database server whose URL has no password, the password comes from the environment
    variable ``chatbot.tracker_password_env`` names."""
    from sqlalchemy.engine import make_url

    from chatbot.uncertain import uncertain_messages, write_csv

    settings = _settings(options)
    url = make_url(settings.tracker_store)
    if url.get_backend_name() != "sqlite" and url.password is None and os.environ.get(settings.tracker_password_env):
        url = url.set(password=os.environ[settings.tracker_password_env])
    below = options.below if options.below is not None else settings.uncertain_below
    messages = uncertain_messages(url, below)
    out = write_csv(messages, options.out)
    print(json.dumps({"out": str(out), "messages": len(messages), "below": below}))
    return 0


def _teach_settings(options):
    """The running suite's settings: `nlpsuite run` writes them to var/nlpsuite.effective.yml."""
    effective = Path("var/nlpsuite.effective.yml")
    if not options.config and not os.environ.get("NLPSUITE_CONFIG") and effective.is_file():
        options.config = str(effective)
    return _settings(options)


def cmd_teach(options) -> int:
    """`nlpsuite chatbot teach`: teaches (or ``--remove``s) an intent on the model the running bot serves;
    without ``--config`` or $NLPSUITE_CONFIG it reads the running suite's var/nlpsuite.effective.yml.
    Teaching needs ``--examples`` and ``--answer`` (CommandError otherwise)."""
    from chatbot.intents import load_intent_data
    from chatbot.teach import DEFAULT_STORE, TaughtStore, read_examples, remove_intent, teach_intent

    settings = _teach_settings(options)
    store = TaughtStore(settings.taught_store or DEFAULT_STORE)
    model = options.model or settings.classifier.model or "var/models/intents"
    if options.remove:
        result = remove_intent(store, model, options.intent, training=load_intent_data()["train"],
                               threads=options.threads)
    else:
        if not options.examples or options.answer is None:
            from shared.errors import CommandError

            raise CommandError("teach needs --examples FILE and --answer TEXT (or --remove)")
        examples = read_examples(options.examples)
        result = teach_intent(store, model, options.intent, examples, options.answer,
                              training=load_intent_data()["train"], threads=options.threads,
                              source=Path(options.examples))
    print(json.dumps(result))
    return 0


def register(subparsers) -> None:
    """Adds `nlpsuite chatbot` and its subcommands to the suite's CLI (entry point in chatbot/product.py).
    Each subcommand's ``func`` returns the exit status, except serve's, whose ServeRequest the app runs."""
    parser = subparsers.add_parser("chatbot", help="the Rasa support chatbot")
    parser.add_argument("--config", help="suite config file (default: $NLPSUITE_CONFIG or ./nlpsuite.yml)")
    commands = parser.add_subparsers(dest="chatbot_command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser("build-data", help="generate the Rasa project from BANKING77 and the FAQ table")
    p.add_argument("--out", help="project folder (default: chatbot.project_dir)")
    p.add_argument("--per-intent", type=int, help="at most N BANKING77 examples per intent (small, fast models)")
    p.add_argument("--intents", help="comma-separated BANKING77 intents to include (default: all 77)")
    p.add_argument("--labels", help="reviewed export-uncertain CSV; rows with a label join the NLU data")
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=cmd_build_data)

    p = commands.add_parser("init-db", help="create the bank's demo database with demo customers")
    p.set_defaults(func=cmd_init_db)

    p = commands.add_parser("build-index", help="embed the FAQ questions into a FAISS index")
    p.set_defaults(func=cmd_build_index)

    p = commands.add_parser("train", help="rasa train the generated project")
    p.add_argument("--project", help="project folder (default: chatbot.project_dir)")
    p.add_argument("--out", help="models folder (default: chatbot.models_dir)")
    p.set_defaults(func=cmd_train)

    p = commands.add_parser("serve", help="start Rasa, the action server and the chat page on 127.0.0.1")
    p.add_argument("--model", help="model archive (default: the newest in chatbot.models_dir)")
    p.add_argument("--logs", default="var/chatbot/logs", help="folder for the servers' logs")
    p.set_defaults(func=cmd_serve)

    p = commands.add_parser("export-uncertain", help="low-confidence user messages as a CSV to label")
    p.add_argument("--out", required=True, help="CSV to write (columns: text, predicted_intent, ..., label)")
    p.add_argument("--below", type=float, help="confidence under which a message counts (default: chatbot.uncertain_below)")
    p.set_defaults(func=cmd_export_uncertain)

    p = commands.add_parser("teach", help="teach the running bot a new intent in seconds (no retraining, no restart)")
    p.add_argument("--intent", required=True, help="the new intent's name (snake_case)")
    p.add_argument("--examples", help="text file, one example message per line (at least 5)")
    p.add_argument("--answer", help="what the bot answers to it")
    p.add_argument("--remove", action="store_true", help="take a taught intent out again")
    p.add_argument("--model", help="the served intent model's versions folder (default: chatbot.classifier.model, "
                                   "else var/models/intents)")
    p.add_argument("--threads", type=int, default=2, help="threads for embedding the examples")
    p.set_defaults(func=cmd_teach)
