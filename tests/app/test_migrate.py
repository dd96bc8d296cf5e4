"""`nlpsuite migrate --to postgres` against a real PostgreSQL (bench/servers.py): an embedded
suite built with the products' own code is copied whole (every table's rows, booleans,
datetimes and floats as they were), the copied ids leave the sequences ready for the next
insert, and a target that already holds data, a wrong password, a missing setting or a missing
file are handled as the command promises."""
from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime

import pytest
import sqlalchemy
from sqlalchemy import text

from bench.servers import start_postgres
from shared.app.cli import main
from shared.errors import CommandError
from shared.sqlite import DATABASE_PASSWORD_ENV

PASSWORD = "migrate-secret"
WHEN = datetime(2026, 3, 4, 5, 6, 7)
LEADER_TABLES = ("scheduler_leader", "apscheduler_jobs")


@pytest.fixture(scope="module")
def postgres():
    server = start_postgres(password=PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def target(postgres, monkeypatch):
    """A fresh database of its own; the password only in the environment, as the suite has it."""
    monkeypatch.setenv(DATABASE_PASSWORD_ENV, PASSWORD)
    name = f"t{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    return postgres.url(name, with_password=False)


def _tracker(path) -> None:
    """Rasa's own events table (SQLTrackerStore's schema) with three events of one conversation."""
    from rasa.core.tracker_store import SQLTrackerStore

    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    table = SQLTrackerStore.SQLEvent.__table__
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        for row in ({"type_name": "user", "timestamp": 1.5, "intent_name": "greet"},
                    {"type_name": "action", "timestamp": 2.5, "action_name": "utter_greet"},
                    {"type_name": "bot", "timestamp": 3.25}):
            connection.execute(table.insert().values(sender_id="alice", data="{}", **row))
    engine.dispose()


def _bank(url) -> None:
    from chatbot.bank import Bank, seed_demo
    from chatbot.verification import Verification

    bank = Bank(url)
    seed_demo(bank)
    bank.open_ticket("alice", "C1001", "wants a person")
    with bank.session() as s, s.begin():
        s.add(Verification(sender_id="alice", customer_id="C1001", failures=3, locked=True, verified_until=WHEN))
    bank.engine.dispose()


def _monitor(url) -> None:
    from finsentiment.store import Alert, Article, Score, SchedulerLeader, Store, TopicState

    store = Store(url)
    with store.session() as s:
        feed = store.feed(s, "https://example.com/rss", "example")
        article = Article(key="k1", feed_id=feed.id, title="Profit rose", fetched_at=WHEN, event_time=WHEN)
        s.add(article)
        s.flush()
        s.add(Score(article_id=article.id, model_version="v1", label="positive", confidence=0.8125,
                    p_negative=0.0625, probabilities="{}", scored_at=WHEN))
        s.add(Alert(topic="banks", group_key="banks@1", kind="firing", window_start=WHEN, window_end=WHEN,
                    n_items=4, n_negative=3, negative_share=0.75, baseline=0.2, created_at=WHEN))
        s.add(TopicState(topic="banks", firing=True, since=WHEN))
        s.add(SchedulerLeader(name="poll", holder="here:1", pid=1, since=WHEN))  # not to be copied
    with store.engine.begin() as connection:  # the scheduler's own table, not the store's
        connection.execute(text("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY, job_state BLOB)"))
        connection.execute(text("INSERT INTO apscheduler_jobs VALUES ('poll', x'00')"))
    store.engine.dispose()


def _recommender(path) -> None:
    from recommender.data import Interaction, Item
    from recommender.store import Store

    store = Store(path)
    store.add_items([Item("m1", "Heat"), Item("m2", "Ronin", "a heist", ("action",))])
    store.remove_items(["m2"])
    store.add_interactions([Interaction("u1", "m1", "view", 10.0), Interaction("u1", "m1", "rating", 11.0, 4.5),
                            Interaction("u2", "m1", "click", 12.0)])
    store.engine.dispose()


@pytest.fixture
def embedded(tmp_path):
    """A var folder with every product's SQLite file where the suite parts put them."""
    var = tmp_path / "var"
    (var / "chatbot").mkdir(parents=True)
    (var / "recommender").mkdir()
    _tracker(var / "chatbot" / "tracker.db")
    _bank(f"sqlite:///{var / 'chatbot' / 'bank.db'}")
    _monitor(f"sqlite:///{var / 'finsentiment' / 'finsentiment.db'}")
    _recommender(var / "recommender" / "store.sqlite")
    return var


def _config(tmp_path, target_url, var=None) -> str:
    suite = {"database_url": target_url} if target_url else {}
    if var is not None:
        suite["var_dir"] = str(var)
    path = tmp_path / "nlpsuite.yml"
    path.write_text(json.dumps({"suite": suite}))  # JSON is YAML
    return str(path)


def _migrate(capsys, config, *extra) -> dict:
    assert main(["migrate", "--to", "postgres", "--config", config, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _sqlite_counts(var) -> dict:
    """Every table's rows in the embedded files, read with sqlite3 (not the code under test)."""
    counts = {}
    for path in var.rglob("*.db"):
        counts.update(_file_counts(path))
    counts.update(_file_counts(var / "recommender" / "store.sqlite"))
    return counts


def _file_counts(path) -> dict:
    with sqlite3.connect(path) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def _target_counts(url) -> dict:
    engine = sqlalchemy.create_engine(url.replace("nlpsuite@", f"nlpsuite:{PASSWORD}@"))
    with engine.connect() as connection:
        names = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        counts = {name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in list(names)}
    engine.dispose()
    return counts


def _connect(url):
    return sqlalchemy.create_engine(url.replace("nlpsuite@", f"nlpsuite:{PASSWORD}@"), future=True)


def test_every_table_is_copied_with_its_values_and_the_sequences_move_past_the_copied_ids(
        tmp_path, capsys, embedded, target):
    summary = _migrate(capsys, _config(tmp_path, target), "--var", str(embedded))

    source, copied = _sqlite_counts(embedded), _target_counts(target)
    expected = {name: n for name, n in source.items() if name not in LEADER_TABLES}
    assert copied == expected
    assert all(copied[name] >= 1 for name in ("events", "customers", "verifications", "tickets", "feeds", "scores",
                                              "alerts", "topic_state", "items", "interactions"))
    reported = {table: row for database in summary["databases"] for table, row in database["tables"].items()}
    assert {table: (row["source_rows"], row["copied"]) for table, row in reported.items()} == {
        table: (n, n) for table, n in expected.items()}
    monitor = next(d for d in summary["databases"] if d["database"] == "finsentiment")
    assert monitor["not_copied"] == ["apscheduler_jobs", "scheduler_leader"]

    from rasa.core.tracker_store import SQLTrackerStore

    events = SQLTrackerStore.SQLEvent.__table__
    engine = _connect(target)
    with engine.begin() as connection:
        locked, until = connection.execute(text("SELECT locked, verified_until FROM verifications")).one()
        assert locked is True and until == WHEN
        assert connection.execute(text("SELECT firing FROM topic_state")).scalar_one() is True
        assert connection.execute(text("SELECT confidence FROM scores")).scalar_one() == 0.8125
        assert connection.execute(text("SELECT removed FROM items ORDER BY id")).scalars().all() == [False, True]
        assert connection.execute(text("SELECT rating FROM interactions WHERE seq = 2")).scalar_one() == 4.5
        # the running suite's next rows: ids from the sequences, past the copied ones
        new_event = connection.execute(events.insert().values(sender_id="bob", type_name="user")  # as Rasa does
                                       ).inserted_primary_key[0]
        new_seq = connection.execute(text("INSERT INTO interactions (\"user\", item, event, timestamp) "
                                          "VALUES ('u3', 'm1', 'view', 13.0) RETURNING seq")).scalar_one()
        new_ticket = connection.execute(text("INSERT INTO tickets (sender_id, summary, status, created) "
                                             "VALUES ('bob', 'hi', 'open', now()) RETURNING id")).scalar_one()
    engine.dispose()
    assert (new_event, new_seq, new_ticket) == (4, 4, 2)


def test_a_second_migration_into_the_same_database_is_refused_and_changes_nothing(tmp_path, capsys, embedded, target):
    config = _config(tmp_path, target, embedded)
    _migrate(capsys, config)
    before = _target_counts(target)

    assert main(["migrate", "--to", "postgres", "--config", config]) == 2
    error = capsys.readouterr().err
    assert "already hold data" in error and "events (3 rows)" in error
    assert _target_counts(target) == before


def test_a_filled_table_of_the_last_database_leaves_the_others_uncopied(tmp_path, capsys, embedded, target):
    """The refusal comes after the chatbot's and the monitor's tables were copied: one
    transaction, so those copies go too."""
    from recommender.data import Item
    from recommender.store import Store

    other = Store(target.replace("nlpsuite@", f"nlpsuite:{PASSWORD}@"))
    other.add_items([Item("x1", "Another suite's film")])
    other.engine.dispose()

    assert main(["migrate", "--to", "postgres", "--config", _config(tmp_path, target, embedded)]) == 2
    assert "recommender: the target's tables already hold data: items (1 rows)" in capsys.readouterr().err
    assert _target_counts(target) == {"items": 1, "interactions": 0}


def test_a_wrong_password_names_the_variable_and_not_the_password(tmp_path, embedded, target, monkeypatch):
    from shared.app.migrate import migrate
    from shared.app.discovery import load_parts
    from shared.product import SuiteContext
    from shared.product.settings import load_settings

    monkeypatch.setenv(DATABASE_PASSWORD_ENV, "not-the-password")
    settings = load_settings(_config(tmp_path, target, embedded))
    ctx = SuiteContext(settings=settings, var_dir=embedded, config_file=tmp_path / "nlpsuite.yml")
    databases = [d for part in load_parts() for d in part.databases(ctx)]
    with pytest.raises(CommandError, match=f"cannot log in to {target}.*\\${DATABASE_PASSWORD_ENV}") as caught:
        migrate(databases, target)
    assert "not-the-password" not in str(caught.value)


def test_a_missing_database_url_is_named(tmp_path, capsys, embedded):
    assert main(["migrate", "--to", "postgres", "--config", _config(tmp_path, None, embedded)]) == 2
    assert "suite.database_url is not set" in capsys.readouterr().err


def test_a_missing_source_file_is_skipped_and_reported(tmp_path, capsys, embedded, target):
    (embedded / "chatbot" / "tracker.db").unlink()
    summary = _migrate(capsys, _config(tmp_path, target, embedded))

    by_label = {d["database"]: d for d in summary["databases"]}
    assert by_label["chatbot tracker"]["status"] == "skipped: no such file" and by_label["chatbot tracker"]["tables"] == {}
    assert by_label["chatbot bank"]["status"] == "copied"
    copied = _target_counts(target)
    assert "events" not in copied and copied["customers"] == 3 and copied["interactions"] == 3


def test_tables_a_running_suite_is_writing_stop_the_copy_instead_of_waiting(tmp_path, capsys, embedded, target,
                                                                            monkeypatch):
    """A writer's open transaction on a target table (a suite running on it) holds the table:
    after the lock timeout the migration gives up, copying nothing."""
    from recommender.store import items_table, metadata

    import shared.app.migrate

    monkeypatch.setattr(shared.app.migrate, "LOCK_TIMEOUT_S", 1)
    engine = _connect(target)
    metadata.create_all(engine)
    with engine.connect() as writer:
        writer.begin()
        writer.execute(items_table.insert().values(id="x1", title="being written"))
        assert main(["migrate", "--to", "postgres", "--config", _config(tmp_path, target, embedded)]) == 2
        writer.rollback()
    engine.dispose()
    assert "recommender: the target's tables are in use" in capsys.readouterr().err
    assert _target_counts(target) == {"items": 0, "interactions": 0}
