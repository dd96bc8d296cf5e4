"""`nlpsuite migrate --to postgres`: copy an embedded suite's SQLite data into ``suite.database_url``.

A user who switches ``suite.backend`` from ``sqlite`` to ``postgres`` would otherwise start
from empty tables: the bank's changes, the tracker's conversations, the monitor's history and
the recommender's interaction log would stay behind in ``var/``. Each product names its SQLite
files and their tables (``SuitePart.databases``); this module copies them without importing
any product.

Nothing may be lost or mixed, so the whole copy is one transaction on the target (PostgreSQL's
DDL is transactional too): it creates the missing tables, refuses a database whose tables to be
filled already hold rows (another suite's data), copies every table in dependency order and
primary-key order, compares the row counts, and moves every id sequence past the copied ids
(else the running suite's next insert would collide with a copied row). Any failure rolls it
all back. Each source file is read in one snapshot, so counts and rows agree even while
something reads it.

    nlpsuite migrate --to postgres [--config nlpsuite.yml] [--var DIR]
"""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import MetaData, Sequence, Table, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError

from shared.errors import CommandError
from shared.product import Database

BATCH_ROWS = 5000
SQLITE_TIMEOUT_S = 10
LOCK_TIMEOUT_S = 30
"""How long the copy waits for another session's transaction on a target table before it gives up."""


def register(subparsers) -> None:
    """The `migrate` command."""
    p = subparsers.add_parser("migrate", help="copy the embedded suite's SQLite data into suite.database_url")
    p.add_argument("--to", required=True, choices=["postgres"], help="the backend to move to (postgres)")
    p.add_argument("--config", help="suite config file (default: $NLPSUITE_CONFIG or ./nlpsuite.yml)")
    p.add_argument("--var", dest="var_dir", default=None, help="the embedded suite's var folder; default: suite.var_dir")
    p.set_defaults(func=cmd_migrate)


def cmd_migrate(options) -> int:
    """Copy every product's SQLite data into ``suite.database_url``; print one JSON summary."""
    from shared.app.discovery import load_parts
    from shared.config import config_path
    from shared.product import SuiteContext
    from shared.product.settings import load_settings

    settings = load_settings(options.config)
    if not settings.database_url:
        raise CommandError("suite.database_url is not set: name the PostgreSQL database to copy into "
                           "(postgresql://user@host:5432/db) in the suite section of the config")
    var_dir = Path(options.var_dir or settings.var_dir).resolve()
    # the hooks read only var_dir; config_file is the user's file (the run's effective one may not exist)
    ctx = SuiteContext(settings=settings, var_dir=var_dir,
                       config_file=Path(config_path(options.config) or "nlpsuite.yml"))
    databases = [database for part in load_parts() for database in part.databases(ctx)]
    print(json.dumps(migrate(databases, settings.database_url)))
    return 0


def migrate(databases: list[Database], target_url: str) -> dict:
    """Copy ``databases`` into ``target_url`` in one transaction; the summary per database and table.

    Raises ``CommandError`` (and writes nothing) when the target cannot be reached, a table to be
    filled holds rows already, or a copied table's row count differs from its source's."""
    target = target_engine(target_url)
    summary = {"target": shown(target_url), "databases": []}
    try:
        with target.begin() as connection:
            for database in databases:
                summary["databases"].append(_migrate_database(database, connection))
    finally:
        target.dispose()
    return summary


def shown(url: str) -> str:
    """``url`` as it may be printed: any password in it masked."""
    return make_url(url).render_as_string(hide_password=True)


def target_engine(url: str) -> Engine:
    """The target's engine (password from ``$NLPSUITE_DB_PASSWORD``), its login checked now, so a
    wrong password is one clear line rather than a driver's traceback halfway through."""
    from shared.sqlite import DATABASE_PASSWORD_ENV, engine

    made = engine(url)
    try:
        with made.connect():
            pass
    except OperationalError as exc:
        made.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise CommandError(f"cannot log in to {shown(url)} (password from ${DATABASE_PASSWORD_ENV}): {reason}") from None
    return made


def source_engine(path: Path) -> Engine:
    """A SQLite engine that reads ``path`` in one snapshot per transaction: pysqlite starts no
    transaction for a SELECT, so ``BEGIN`` is sent here (counts and rows then agree while the
    embedded suite still writes). It changes nothing in the file (no journal-mode pragma)."""
    made = create_engine(f"sqlite:///{path}", future=True, connect_args={"timeout": SQLITE_TIMEOUT_S})

    @event.listens_for(made, "connect")
    def _manual_transactions(connection, _record):
        connection.isolation_level = None

    @event.listens_for(made, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN")
    return made


def _migrate_database(database: Database, target: Connection) -> dict:
    """One SQLite file into the open target transaction; its part of the summary."""
    report = {"database": database.label, "source": str(database.path)}
    if not database.path.is_file():
        return {**report, "status": "skipped: no such file", "tables": {}}
    metadata = database.metadata()
    tables = [table for table in metadata.sorted_tables if table.name not in database.skip]
    source = source_engine(database.path)
    try:
        with source.begin() as reader:
            present = set(inspect(reader).get_table_names())
            _prepare_target(database, metadata, tables, target)
            copied = {table.name: _copy_table(database, table, reader, target, present) for table in tables}
    finally:
        source.dispose()
    _check_counts(database, copied, target, tables)
    _move_sequences(tables, target)
    left = sorted(present - {table.name for table in tables})
    return {**report, "status": "copied", "tables": copied, "not_copied": left}


def _prepare_target(database: Database, metadata: MetaData, tables: list[Table], target: Connection) -> None:
    """Create the missing tables, keep other writers out until the commit, and refuse tables that
    already hold rows: copying into them would mix two suites' data (or collide on ids)."""
    metadata.create_all(target, tables=tables, checkfirst=True)
    preparer = target.dialect.identifier_preparer
    target.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'"))
    try:
        target.execute(text(f"LOCK TABLE {', '.join(preparer.format_table(t) for t in tables)} IN EXCLUSIVE MODE"))
    except OperationalError:
        raise CommandError(f"{database.label}: the target's tables are in use (a suite runs on them?); nothing was "
                           f"copied. Stop it, then migrate into an empty database") from None
    filled = {table.name: n for table in tables
              if (n := target.execute(select(func.count()).select_from(table)).scalar_one())}
    if filled:
        rows = ", ".join(f"{name} ({n} rows)" for name, n in filled.items())
        raise CommandError(f"{database.label}: the target's tables already hold data: {rows}; nothing was copied. "
                           "Migrate into an empty database (a suite that already ran on it has its own data)")


def _copy_table(database: Database, table: Table, reader: Connection, target: Connection, present: set) -> dict:
    """Copy one table in primary-key order, ``BATCH_ROWS`` at a time, through the product's table
    object (so SQLite's 0/1 and date strings arrive as booleans and datetimes)."""
    from tqdm import tqdm

    if table.name not in present:
        return {"source_rows": 0, "copied": 0, "in_source": False}
    have = {column["name"] for column in inspect(reader).get_columns(table.name)}
    columns = [column for column in table.columns if column.name in have]  # newer columns get their default
    total = reader.execute(select(func.count()).select_from(table)).scalar_one()
    order = list(table.primary_key.columns) or columns
    result = reader.execute(select(*columns).order_by(*order))
    copied = 0
    with tqdm(total=total, unit="rows", desc=f"{database.label}: {table.name}", disable=None) as progress:
        while batch := result.fetchmany(BATCH_ROWS):
            target.execute(table.insert(), [dict(row._mapping) for row in batch])
            copied += len(batch)
            progress.update(len(batch))
    return {"source_rows": total, "copied": copied}


def _check_counts(database: Database, copied: dict, target: Connection, tables: list[Table]) -> None:
    """Every table holds exactly its source's rows, else the whole migration rolls back."""
    wrong = []
    for table in tables:
        there = target.execute(select(func.count()).select_from(table)).scalar_one()
        if there != copied[table.name]["source_rows"] or there != copied[table.name]["copied"]:
            wrong.append(f"{table.name}: {copied[table.name]['source_rows']} in the source, {there} in the target")
    if wrong:
        raise CommandError(f"{database.label}: row counts differ after the copy ({'; '.join(wrong)}); "
                           "nothing was kept")


def _move_sequences(tables: list[Table], target: Connection) -> None:
    """Set each id sequence to the largest copied id, so the next row the suite inserts gets a new
    one: SERIAL columns' sequences (``pg_get_serial_sequence``) and explicit ``Sequence`` defaults
    that exist in the database (Rasa's ``events_seq`` is optional: PostgreSQL makes ``events.id``
    SERIAL instead)."""
    preparer = target.dialect.identifier_preparer
    for table in tables:
        for column in table.columns:
            sequences = {target.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                        {"t": preparer.format_table(table), "c": column.name}).scalar()}
            if isinstance(column.default, Sequence):  # only if it was created (an optional one is not)
                sequences.add(target.execute(text("SELECT CAST(to_regclass(:s) AS text)"),
                                             {"s": preparer.format_sequence(column.default)}).scalar())
            sequences.discard(None)
            largest = target.execute(select(func.max(column))).scalar() if sequences else None
            if largest is None:
                continue  # no sequence, or nothing copied: the sequence starts at 1 as it should
            for sequence in sorted(sequences):
                target.execute(text("SELECT setval(CAST(:s AS regclass), :n)"), {"s": sequence, "n": largest})
