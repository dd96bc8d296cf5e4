"""`nlpsuite batch score|embed`: a batch job over files, in this process or on Apache Spark.

    nlpsuite batch score --model DIR --input PATH --text-col C [--id-col C] --output DIR
                         [--master inprocess|local[N]|spark://HOST:PORT] [--partitions N]
    nlpsuite batch embed --model minilm-l6 ...   (the same options)

Prints one JSON summary line: rows in, rows out, rows rejected, seconds, rows/s. Rejected rows
(empty or non-string text, missing id, undecodable bytes) are in ``<output>/_rejected/`` with
their file, row and reason; nothing appears under ``--output`` unless every row is counted.
"""
from __future__ import annotations

import json


def cmd_batch(options) -> int:
    from shared.batch import Columns, EmbedJob, ScoreJob, run

    if options.batch_command == "score":
        job = ScoreJob(options.model, top_k=options.top_k, threads=options.threads)
    else:
        job = EmbedJob(options.model, threads=options.threads)
    summary = run(job, options.input, options.output, Columns(options.text_col, options.id_col),
                  master=options.master, partitions=options.partitions, overwrite=options.overwrite,
                  progress=not options.no_progress)
    print(json.dumps(summary))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("batch", help="score or embed files in batch (in-process or on Apache Spark)")
    commands = parser.add_subparsers(dest="batch_command", metavar="COMMAND")
    commands.required = True
    for name, text, model_help in (
            ("score", "label, calibrated confidence and top-k of a fine-tuned classifier for every row",
             "a fine-tuned model folder (its int8 ONNX export is used when present)"),
            ("embed", "the encoder's unit-length vector for every row",
             "a sentence-transformers folder or a registry name such as minilm-l6")):
        p = commands.add_parser(name, help=text)
        p.add_argument("--model", required=True, help=model_help)
        p.add_argument("--input", required=True, help="Parquet, CSV or JSONL: a file, a folder or a glob")
        p.add_argument("--text-col", required=True, help="the column holding the text")
        p.add_argument("--id-col", default=None, help="the column holding each row's id (default: file:row)")
        p.add_argument("--output", required=True, help="the Parquet folder to write (appears whole or not at all)")
        p.add_argument("--master", default="local[2]",
                       help="inprocess (no Spark), local[N] or spark://HOST:PORT; default local[2]")
        p.add_argument("--partitions", type=int, default=None, help="Spark tasks at most (default: one per split)")
        p.add_argument("--threads", type=int, default=1, help="intra-op threads per task (default 1)")
        if name == "score":
            p.add_argument("--top-k", type=int, default=3, help="labels kept per row (default 3)")
        p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
        p.add_argument("--no-progress", action="store_true")
        p.set_defaults(func=cmd_batch)
