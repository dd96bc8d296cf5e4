"""``nlpsuite-device``: answer, learn, roll back and describe a bundle, or serve it over HTTP.

    nlpsuite-device predict BUNDLE "where is my card?" ...   # or --input FILE (one text a line), or -
    nlpsuite-device learn BUNDLE --data new_intents.csv      # CSV or JSONL with text and label
    nlpsuite-device rollback BUNDLE
    nlpsuite-device info BUNDLE
    nlpsuite-device serve BUNDLE [--host 127.0.0.1] [--port 8080]   # /learn needs $NLPSUITE_DEVICE_TOKEN

Answers are one JSON object a line on stdout, as ``nlpsuite predict`` prints them; every error
the owner can fix is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .bundle import DeviceError

EXIT_BAD_INPUT = 2
TOKEN_ENV = "NLPSUITE_DEVICE_TOKEN"


def _classifier(options):
    from .classifier import DeviceClassifier

    return DeviceClassifier(options.bundle, threads=options.threads)


def _predict(options) -> int:
    texts = list(options.texts)
    if options.input:
        source = sys.stdin if options.input == "-" else open(options.input, encoding="utf-8")
        with source:
            texts += [line.rstrip("\n") for line in source if line.strip()]
    if not texts:
        raise DeviceError("no texts: give them as arguments or with --input FILE")
    for prediction in _classifier(options).predict(texts, top_k=options.top_k):
        print(json.dumps(prediction.to_dict(), ensure_ascii=False))
    return 0


def _learn(options) -> int:
    from .examples_file import read_examples

    texts, labels = read_examples(options.data)  # every row checked before the bundle is opened
    print(json.dumps(_classifier(options).learn(texts, labels).to_dict()))
    return 0


def _rollback(options) -> int:
    print(json.dumps({"version": _classifier(options).rollback()}))
    return 0


def _info(options) -> int:
    print(json.dumps(_classifier(options).info()))
    return 0


def _token(options) -> str | None:
    if options.token_file:
        path = Path(options.token_file)
        if path.stat().st_mode & 0o077:
            raise DeviceError(f"{path}: readable by other users; chmod 600 it")
        return path.read_text(encoding="utf-8").strip() or None
    return os.environ.get(TOKEN_ENV) or None


def _serve(options) -> int:
    from .server import serve

    token = _token(options)
    if token is not None and len(token) < 16:
        raise DeviceError("the token is shorter than 16 characters")
    classifier = _classifier(options)
    server = serve(classifier, options.host, options.port, token)
    host, port = server.server_address[:2]
    print(f"serving {options.bundle} on http://{host}:{port} (learn: {'token required' if token else 'off'})",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nlpsuite-device", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, help_text: str):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("bundle", help="the bundle folder (nlpsuite device pack)")
        p.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1)")
        p.set_defaults(func=func)
        return p

    p = command("predict", _predict, "classify texts; one JSON object per text")
    p.add_argument("texts", nargs="*")
    p.add_argument("--input", help="a file with one text a line, or - for stdin")
    p.add_argument("--top-k", type=int, default=5)
    p = command("learn", _learn, "learn new labels or more examples from a CSV or JSONL file (text, label)")
    p.add_argument("--data", required=True)
    command("rollback", _rollback, "serve the previous version again")
    command("info", _info, "what the bundle is, its versions and its figures")
    p = command("serve", _serve, "a small local HTTP endpoint: /predict, /learn (token), /health")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--token-file", help=f"a 0600 file holding the /learn token (default: ${TOKEN_ENV})")
    return parser


def main(argv=None) -> int:
    options = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return options.func(options)
    except DeviceError as exc:
        print(f"nlpsuite-device {options.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a file the owner named that cannot be read
        print(f"nlpsuite-device {options.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
