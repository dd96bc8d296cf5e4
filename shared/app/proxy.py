"""The suite's reverse proxy for ``suite.replicas``: HAProxy, on the ports users already know.

Every service that names a ``front_port`` is a replica; HAProxy listens on each front port
(``chatbot.rasa_port``, ``suite.web_port``) and sends each request to a replica that passed its
last check. A check every second takes a replica out after one failure and back after two
successes, so a replica killed with ``kill -9`` costs the requests it had in flight, and a
request that could not even connect is tried on another one (``retry-on conn-failure``: safe
for a POST, since nothing was sent). Requests that reached a dying replica are not retried: a
chat message must never be processed twice.

HAProxy is Debian's package (``make setup`` installs it); it runs in the foreground (``-db``)
under the suite's supervisor, so it is restarted, logged and stopped like every other service.
"""
from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

from shared.errors import CommandError
from shared.product import Service, http_ready

CHECK_EVERY_MS = 1000
MAXCONN = 8


def haproxy_binary() -> str:
    """Where HAProxy is; a CommandError that says how to install it when it is missing."""
    found = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
                                             if Path(p).is_file()), None)
    if found is None:
        raise CommandError("suite.replicas needs HAProxy in front of the replicas: `make setup` installs it "
                           "(or `sudo apt-get install haproxy`)")
    return found


def fronts(services: list[Service]) -> dict[int, list[Service]]:
    """The replicas grouped by the port their proxy listens on."""
    groups: dict[int, list[Service]] = defaultdict(list)
    for service in services:
        if service.front_port is not None:
            groups[service.front_port].append(service)
    return dict(groups)


def haproxy_config(host: str, port: int, replicas: list[Service]) -> str:
    """The configuration of one front: a frontend on ``port`` and a backend that goes round robin
    over the replicas that pass ``GET check_path``."""
    name = replicas[0].name.rsplit("-", 1)[0]
    lines = ["global", "    maxconn 4096", "",
             "defaults", "    mode http", "    timeout connect 2s", "    timeout client 120s",
             "    timeout server 120s", "    timeout queue 30s", "    retries 3", "    option redispatch",
             "    retry-on conn-failure", "    option forwardfor", "",
             f"frontend {name}", f"    bind {host}:{port}", f"    default_backend {name}-replicas", "",
             f"backend {name}-replicas", "    balance roundrobin"]
    if len(replicas) == 1:
        lines.append(f"    default-server maxconn {MAXCONN}")
    else:  # with one replica there is nothing to send a request to instead
        lines += ["    option httpchk",  # HTTP/1.1 with a Host the servers answer (the web app refuses others)
                  f"    http-check send meth GET uri {replicas[0].check_path} ver HTTP/1.1 hdr Host {host}",
                  "    http-check expect status 200", "    timeout check 10s",
                  # a refused or reset connection of real traffic takes a replica out at once; a
                  # check only catches a hung one: a check that is merely slow under load is no death
                  f"    default-server inter {CHECK_EVERY_MS} fall 3 rise 2 maxconn {MAXCONN} observe layer4 "
                  "error-limit 1 on-error mark-down"]
    check = " check" if len(replicas) > 1 else ""
    lines += [f"    server {r.name} {r.host}:{r.port}{check}" for r in replicas]
    return "\n".join(lines) + "\n"


def proxy_services(host: str, services: list[Service], folder: Path) -> list[Service]:
    """One HAProxy service per front port among ``services`` (none without replicas), named
    ``proxy-<server>``; each configuration is written to ``folder/<name>.cfg``."""
    made = []
    for port, replicas in sorted(fronts(services).items()):
        name = "proxy-" + replicas[0].name.rsplit("-", 1)[0]
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / f"{name}.cfg"
        config.write_text(haproxy_config(host, port, replicas), encoding="utf-8")
        made.append(Service(name, [haproxy_binary(), "-db", "-f", str(config)], port=port,
                            port_key=replicas[0].front_key, host=host, ready_timeout_s=60,
                            # ready once a request through it reaches a replica (HAProxy has seen one pass its checks)
                            ready=http_ready(f"http://{host}:{port}{replicas[0].check_path}")))
    return made
