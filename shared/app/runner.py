"""`nlpsuite run` (the README's `make run`): prepare, start, watch and stop the whole suite.

1. train a first version of each classifier that has none yet (the probe recipe: about a
   minute each; ``shared.app.quickstart``), served from ``var/models/<name>``;
2. write the effective config ``var/nlpsuite.effective.yml``: each product's defaults under
   ``var/``, overridden by the user's nlpsuite.yml; every process reads it;
3. each product prepares what its servers need (skipped when already there);
4. start the mail outbox, the products' servers and the web app together, wait until each is
   ready, print the URLs; restart a service that crashes; Ctrl-C or SIGTERM stops them all;
5. unless ``suite.upgrade`` is off, train the profile's recipe of each classifier in the
   background (``shared.app.upgrade``): the servers swap it in live when it scores better.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

import yaml

from shared.app.discovery import classifier_specs, load_parts
from shared.app.backends import check_backends
from shared.app.logging_setup import write_logging_config
from shared.app.proxy import proxy_services
from shared.app.supervisor import ServiceError, StopRequested, Supervisor
from shared.app.web import web_service
from shared.config import ConfigError, merge_mappings, read_config_file
from shared.product import PROFILE_NAMES, Service, SuiteContext, SuiteSettings, replica_port, smtp_ready
from shared.product.settings import load_settings
from shared.product.token import load_api_token

logger = logging.getLogger("nlpsuite.suite")
EFFECTIVE_CONFIG = "nlpsuite.effective.yml"
START_MINUTES = 0.5  # the servers, once everything is prepared (17 s measured on 2 cores)


def settings_from_options(options) -> SuiteSettings:
    """The ``suite`` section of ``options.config``, with the command line's overrides."""
    settings = load_settings(options.config)
    for key in ("profile", "threads", "var_dir", "web_port"):
        value = getattr(options, key, None)
        if value is not None:
            setattr(settings, key, value)
    return settings


def upgrade_service(ctx: SuiteContext) -> Service:
    """The background upgrade (``shared.app.upgrade``): a one-shot job at the lowest priority."""
    s = ctx.settings
    return Service("upgrade", ctx.module_command("shared.app.upgrade", "--var", str(ctx.var_dir), "--profile",
                                                 s.profile, "--threads", str(s.upgrade_threads)), oneshot=True)


def core_services(ctx: SuiteContext) -> tuple[list[Service], list[Service]]:
    """(first, last): the mail outbox starts before the products, the web app after them."""
    s = ctx.settings
    logging_file = str(ctx.logging_config)
    outbox = Service("outbox", ctx.module_command("shared.app.outbox", "--dir", str(ctx.var("outbox")),
                                                     "--host", s.host, "--port", str(s.outbox_port)),
                     port=s.outbox_port, port_key="suite.outbox_port", host=s.host,
                     ready=smtp_ready(s.host, s.outbox_port), ready_timeout_s=30)
    if not s.replicas:
        return [outbox], [web_service(s.host, s.web_port, logging_config=logging_file, python=ctx.python,
                                      workers=s.web_workers)]
    webs = []
    for index in range(1, s.replicas + 1):  # one uvicorn process each, behind the proxy on web_port
        web = web_service(s.host, replica_port(s.web_port, s.replica_port_offset, index), workers=1,
                          logging_config=logging_file, python=ctx.python, name=f"web-{index}", total_workers=s.replicas)
        web.port_key, web.front_port, web.front_key, web.check_path = (
            "suite.replica_port_offset", s.web_port, "suite.web_port", "/health")
        webs.append(web)
    return [outbox], webs


def all_services(ctx: SuiteContext, parts) -> list[Service]:
    """Every server of the suite in starting order: the outbox, the products', the web app, and
    with ``suite.replicas`` a proxy in front of each replicated server."""
    first, last = core_services(ctx)
    services = first + [s for p in parts for s in p.services(ctx)] + last
    return services + proxy_services(ctx.settings.host, services, ctx.var("proxy"))


def write_effective_config(ctx: SuiteContext, parts, user_config: dict) -> Path:
    # var_dir absolute: every process finds the same folder (and the API token in it), whatever its cwd
    """Write ``var/nlpsuite.effective.yml``: the products' defaults under ``var/``, then the user's config on top."""
    document: dict = {"suite": {**json.loads(ctx.settings.json()), "var_dir": str(ctx.var_dir)}}
    for part in parts:
        document[part.name] = part.defaults(ctx)
    document = merge_mappings(document, {k: v for k, v in user_config.items() if k != "suite"})
    ctx.config_file.parent.mkdir(parents=True, exist_ok=True)
    ctx.config_file.write_text("# Written by `nlpsuite run`: the products' defaults under var/, then the user's "
                               "config on top. Edit nlpsuite.yml, not this file.\n"
                               + yaml.safe_dump(document, sort_keys=False))
    return ctx.config_file


def _print_summary(ctx: SuiteContext, started: float) -> None:
    from shared.app.web import load_plugins

    rows = [("home", f"{ctx.web_url}/")]
    for plugin in load_plugins(ctx.config_file):
        rows += [(f"{plugin.title}: {text}", f"{ctx.web_url}{path}") for text, path in plugin.pages.items()]
    rows += [(f"model: {name}", _serving(path)) for name, path in ctx.models.items()]
    rows += [("health", f"{ctx.web_url}/health"), *ctx.links.items(),
             ("mail outbox", f"{ctx.var('outbox')}/ (SMTP {ctx.settings.host}:{ctx.settings.outbox_port})"),
             ("API token", "`nlpsuite token` prints it (write and admin endpoints need it)"),
             ("logs", f"{ctx.var('logs')}/")]
    width = max(len(label) for label, _ in rows) + 2
    print(f"\nnlpsuite is running ({time.perf_counter() - started:.0f} s to start; profile {ctx.settings.profile}):\n"
          + "\n".join(f"  {label:<{width}}{where}" for label, where in rows) + "\nCtrl-C stops everything.",
          flush=True)


def _serving(path: Path) -> str:
    """What a classifier serves now, for the summary: its version, recipe and validation score."""
    from shared.model_versions import ModelVersions, is_versioned

    if not is_versioned(path):
        return f"{path} (given in suite.models)"
    current = ModelVersions(path).current()
    return (f"{current.info.recipe} version {current.id} (validation macro-F1 {current.info.score:.4f}, "
            f"test accuracy {current.info.test.get('accuracy')}); `nlpsuite models status` shows the upgrade")


class Plan:
    """The steps of a run with their expected minutes on 2 cores, printed before the first one,
    then "step k of n" as each starts, so a first run of several minutes never looks hung;
    ``coming``: what the background upgrade will bring once the suite serves."""

    def __init__(self, steps: list[tuple[str, float]], coming: list[str] = ()):
        self.steps, self.done, self.coming = steps, 0, list(coming)

    def announce(self) -> None:
        """Print every step with its expected minutes, before the first one starts."""
        total = sum(minutes for _, minutes in self.steps)
        lines = [f"  {i}. {title} (about {_minutes(minutes)})" for i, (title, minutes) in enumerate(self.steps, 1)]
        later = ["then, while the suite serves (lowest CPU priority; suite.upgrade: off skips it):"] + [
            f"  - {line}" for line in self.coming] if self.coming else []
        print(f"nlpsuite run: {len(self.steps)} steps, about {_minutes(total)} on 2 cores:\n"
              + "\n".join(lines + later), flush=True)

    def next(self) -> None:
        """Print "step k of n" as the next step starts."""
        title, minutes = self.steps[self.done]
        self.done += 1
        print(f"step {self.done} of {len(self.steps)}: {title} (about {_minutes(minutes)})", flush=True)


def _minutes(minutes: float) -> str:
    return f"{minutes:g} min" if minutes >= 1 else f"{max(1, round(minutes * 60))} s"


def _model_plan(specs, settings: SuiteSettings, var_dir: Path) -> tuple[list, list[tuple[str, float]], list[str]]:
    """(specs to train a first version of, their plan steps, what the upgrade will bring)."""
    from shared.app.quickstart import has_version

    own = [spec for spec in specs if spec.name not in settings.models]
    first = [spec for spec in own if not has_version(spec, var_dir)]
    steps = [(f"train a first {spec.title}: {(spec.first or spec.profiles[settings.profile]).recipe} recipe",
              spec.first_minutes if spec.first else spec.expected_minutes[settings.profile]) for spec in first]
    coming = [f"{spec.title}: the {spec.profiles[settings.profile].recipe} recipe ({settings.profile} profile, "
              f"about {_minutes(spec.expected_minutes[settings.profile] * 2)} at {settings.upgrade_threads} "
              f"thread), swapped in when it beats the served version on validation"
              for spec in own if settings.upgrade]
    return first, steps, coming


def run_suite(options) -> int:
    """`nlpsuite run`: prepare, start, watch and stop the whole suite (see the module docstring)."""
    from shared.app.quickstart import ensure_serving

    started = time.perf_counter()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # readiness polls are not news
    settings = settings_from_options(options)
    var_dir = Path(settings.var_dir).resolve()
    ctx = SuiteContext(settings=settings, var_dir=var_dir, config_file=var_dir / EFFECTIVE_CONFIG)
    ctx.var("logs").mkdir(parents=True, exist_ok=True)
    ctx.logging_config = Path(write_logging_config(ctx.var("logs", "logging.yml")))
    user_config = read_config_file(options.config)
    parts = load_parts()

    if not settings.is_loopback() and not settings.allow_remote:
        raise ConfigError(f"suite.host: {settings.host} is not a loopback address, so every service would be "
                          "reachable from the network; set suite.allow_remote: true to mean it (then put TLS in "
                          "front, see docs/suite.md), or keep the default 127.0.0.1")
    ctx.api_token = load_api_token(var_dir, settings.token_env)
    supervisor = Supervisor(var_dir / "logs", {**os.environ, "NLPSUITE_CONFIG": str(ctx.config_file),
                                               "PYTHONUNBUFFERED": "1", settings.token_env: ctx.api_token},
                            settings.max_restarts, keep_going=True)
    specs = classifier_specs(parts)
    ctx.models.update(_model_folders(specs, settings, var_dir))
    write_effective_config(ctx, parts, user_config)
    os.environ["NLPSUITE_CONFIG"] = str(ctx.config_file)  # the parts' own loaders read it too
    check_backends(settings)
    supervisor.check_ports(all_services(ctx, parts))  # before any training

    training, model_steps, coming = _model_plan(specs, settings, var_dir)
    plan = Plan(model_steps
                + [(part.prepare_title(ctx), part.prepare_minutes(ctx)) for part in parts]
                + [("start the servers", START_MINUTES)], coming)
    plan.announce()
    for spec in training:
        plan.next()
        ensure_serving(spec, settings.profile, var_dir, settings.threads)
    for part in parts:
        plan.next()
        part.prepare(ctx)
    plan.next()

    services = all_services(ctx, parts)
    supervisor.check_ports(services)  # again: something may have taken a port while we trained
    if coming:
        services.append(upgrade_service(ctx))
    return _serve(supervisor, services, ctx, started)


def _serve(supervisor: Supervisor, services: list[Service], ctx: SuiteContext, started: float) -> int:
    """Start the services, print the summary, watch until Ctrl-C or SIGTERM, stop everything."""
    previous = {signum: signal.signal(signum, lambda *_: supervisor.stopping.set())
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        supervisor.start(services)
        _print_summary(ctx, started)
        while not supervisor.stopping.wait(1.0):
            supervisor.watch_once()
        raise StopRequested()
    except StopRequested:
        print("stopping...", flush=True)
        return 0
    except ServiceError as exc:
        logger.error("%s", exc)
        return 1
    finally:
        supervisor.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        logger.info("all services stopped")


def _model_folders(specs, settings: SuiteSettings, var_dir: Path) -> dict[str, Path]:
    """Each classifier's folder: the one ``suite.models`` gives (a model or versions folder), else
    the suite's own versions folder; an unknown task or a folder without a model stops the run."""
    from shared.app.quickstart import model_root
    from shared.model_versions import served_folder

    unknown = sorted(set(settings.models) - {spec.name for spec in specs})
    if unknown:
        raise ConfigError(f"suite.models: unknown task(s) {', '.join(unknown)}; "
                          f"known: {', '.join(spec.name for spec in specs)}")
    folders = {}
    for spec in specs:
        given = settings.models.get(spec.name)
        if given and not (served_folder(given) / "nlpsuite.json").is_file():
            raise ConfigError(f"suite.models.{spec.name}: {given} is not a model folder made by `nlpsuite finetune` "
                              "(nor a versions folder of `nlpsuite run`)")
        folders[spec.name] = Path(given).resolve() if given else model_root(spec.name, var_dir)
    return folders


def cmd_run(options) -> int:
    """`nlpsuite run`: the whole suite, or with ``--prepare-only`` just its classifiers."""
    from shared.app.quickstart import prepare_and_demo

    if options.prepare_only:
        settings = settings_from_options(options)
        return prepare_and_demo(Path(settings.var_dir).resolve(), settings.profile, settings.threads)
    return run_suite(options)


def register(subparsers) -> None:
    """The `run` command."""
    p = subparsers.add_parser("run", help="the main job: prepare every product and run the whole suite")
    p.add_argument("--config", help="suite config file (default: $NLPSUITE_CONFIG or ./nlpsuite.yml)")
    p.add_argument("--profile", choices=PROFILE_NAMES, default=None,
                   help="quick (default; about 12 min on 2 cores the first time) or full (benchmark quality)")
    p.add_argument("--var", dest="var_dir", default=None, help="folder for models, databases, logs; default: var/")
    p.add_argument("--threads", type=int, default=None, help="torch threads for fine-tuning; default: all cores")
    p.add_argument("--web-port", type=int, default=None, help="the web app's port; default 8000 (suite.web_port)")
    p.add_argument("--prepare-only", action="store_true",
                   help="only fine-tune/export the products' classifiers and classify a few demo texts")
    p.set_defaults(func=cmd_run)
