"""Run what a product's `serve` command asks for (``shared.product.ServeRequest``) under the
one supervisor, with the web app beside it, until Ctrl-C or SIGTERM; then stop everything."""
from __future__ import annotations

import os
import signal

from shared.app.supervisor import StopRequested, Supervisor
from shared.app.web import web_service
from shared.product import ServeRequest


def serve(request: ServeRequest) -> int:
    """Start the request's servers (ports checked first), print its message once all are ready,
    restart a server that crashes, and stop them all on Ctrl-C or SIGTERM."""
    services = list(request.services)
    if request.web_port is not None:
        services.append(web_service(request.web_host, request.web_port))
    supervisor = Supervisor(request.log_dir, {**os.environ, "PYTHONUNBUFFERED": "1", **request.env},
                            request.max_restarts, keep_going=True)
    supervisor.check_ports(services)
    # Explicit handlers: a process started in the background inherits an ignored SIGINT,
    # and Ctrl-C or SIGTERM must stop the servers whatever the parent did.
    previous = {signum: signal.signal(signum, lambda *_: supervisor.stopping.set())
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        supervisor.start(services)
        if request.ready_message:
            print(request.ready_message, flush=True)
        while not supervisor.stopping.wait(1.0):
            supervisor.watch_once()
        raise StopRequested()
    except StopRequested:
        print("stopping...", flush=True)
        return 0
    finally:
        supervisor.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
