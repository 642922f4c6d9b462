"""Models and migrations on both engines (SQLite under tmp_path, a throwaway PostgreSQL database),
and the notification sequences written by concurrent units of work."""

from __future__ import annotations

import json
import shutil
import threading
from collections import defaultdict

import peewee
import pytest
from playhouse.migrations import Runner

from host import use_cases
from host.notifications import PAGE, fetch_after
from host.storage import models
from bot import state
from bot.models import create_tables as create_bot_tables
from host.storage.db import MIGRATIONS_DIR, database_proxy, init_database, migrate
from host.unit_of_work import unit_of_work

EXTRA_MIGRATION = '''\
"""A later schema change, as a real one would be written."""
from peewee import TextField


def up(migrator, db):
    migrator.migrate(migrator.add_column("avatar", "test_note", TextField(default="none yet")))
'''


@pytest.fixture
def database(db_url: str):
    db = init_database(db_url)
    try:
        yield db
    finally:
        db.close()


def _columns(db: peewee.Database) -> dict[str, list[str]]:
    return {table: sorted(c.name for c in db.get_columns(table)) for table in sorted(db.get_tables())}


def _seed() -> dict[str, str]:
    """One row in every table, linked the way the host links them."""
    with unit_of_work() as uow:
        avatar = use_cases.create_avatar(uow, "cli:anna", "Anna")
        run = models.StageRun.create(id=models.new_id(), avatar=avatar.id, stage="probe", state="queued")
        models.Submission.create(avatar=avatar.id, version=1, video_key="k/v", video_sha256="0" * 64, video_size=3)
        models.Artifact.create(key="k/v", avatar=avatar.id, run=run.id, kind="video", name="video", sha256="0" * 64, size=3)
        models.Plugin.create(id=models.new_id(), name="probe", version="1", address="127.0.0.1:1", description_json="{}")
        uow.notify(avatar.id, "stage_queued", {"x": 1}, run_id=run.id, stage="probe")
    return {"avatar": avatar.id, "run": run.id}


def _snapshot() -> dict[str, list[tuple]]:
    return {m.__name__: sorted(tuple(r) for r in m.select().tuples()) for m in models.ALL_MODELS}


def test_models_round_trip_on_each_engine(database):
    ids = _seed()
    avatar = models.Avatar.get_by_id(ids["avatar"])
    assert avatar.owner.external_id == "cli:anna"
    assert [r.id for r in avatar.runs] == [ids["run"]]
    assert models.Artifact.get_by_id("k/v").run_id == ids["run"]
    notes = [(n.seq, n.kind, n.payload_json) for n in avatar.notifications.order_by(models.Notification.seq)]
    assert notes == [(1, "avatar_created", '{"name": "Anna", "owner": "cli:anna"}'), (2, "stage_queued", '{"x": 1}')]
    with pytest.raises(peewee.IntegrityError), database.atomic():
        models.Submission.create(avatar=avatar.id, version=1, video_key="k/w", video_sha256="1" * 64, video_size=1)


def test_migrating_twice_is_a_no_op(database):
    ids = _seed()
    schema, rows = _columns(database), _snapshot()
    assert migrate(database) == []
    assert Runner(database, str(MIGRATIONS_DIR)).up() == []
    assert _columns(database) == schema
    assert _snapshot() == rows
    assert models.Avatar.get_by_id(ids["avatar"]).name == "Anna"


def test_rows_survive_a_new_migration(database, tmp_path):
    ids = _seed()
    before = _snapshot()
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory, ignore=shutil.ignore_patterns("__pycache__"))
    (directory / "0002_test.py").write_text(EXTRA_MIGRATION)

    assert Runner(database, str(directory)).up() == ["0002_test"]
    assert Runner(database, str(directory)).up() == []

    assert "test_note" in _columns(database)["avatar"]
    assert _snapshot() == before, "the migration changed or lost rows (SQLite table rebuilds cascade if unguarded)"
    cursor = database.execute_sql("SELECT test_note FROM avatar WHERE id = %s" % database.param, (ids["avatar"],))
    assert cursor.fetchone() == ("none yet",)
    # The application still works against the upgraded schema.
    with unit_of_work() as uow:
        uow.notify(ids["avatar"], "after_upgrade")
    assert [n.seq for n in fetch_after(ids["avatar"], 0)] == [1, 2, 3]


def _write_concurrently(avatars: list[str], writers: int, per_writer: int) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(index: int) -> None:
        db = database_proxy.obj
        try:
            start.wait()
            for i in range(per_writer):
                avatar_id = avatars[(index + i) % len(avatars)]
                with unit_of_work() as uow:
                    # Two notifications per commit: both must stay adjacent and in order.
                    uow.notify(avatar_id, "w", {"writer": index, "i": i, "part": 0})
                    uow.notify(avatar_id, "w", {"writer": index, "i": i, "part": 1})
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_notification_sequences_are_gap_free_under_concurrent_writers(pg_url):
    """On PostgreSQL, 8 writer threads commit at once while a reader follows the global sequence:
    the reader never sees a later sequence number before an earlier one has committed (commit
    order is sequence order), and every avatar's sequence runs 1..n without a gap."""
    db = init_database(pg_url)
    try:
        with unit_of_work() as uow:
            avatars = [use_cases.create_avatar(uow, f"cli:w{n}", f"W{n}").id for n in range(3)]
        base = models.Notification.select(peewee.fn.MAX(models.Notification.global_seq)).scalar()
        writers, per_writer = 8, 15
        total = writers * per_writer * 2

        seen: list[int] = []
        done = threading.Event()

        def follow() -> None:
            cursor = base
            try:
                while True:
                    finished = done.is_set()
                    rows = fetch_after("", cursor)
                    for row in rows:
                        seen.append(row.global_seq)
                        cursor = row.global_seq
                    if finished and len(rows) < PAGE:
                        return
            finally:
                database_proxy.obj.close()

        reader = threading.Thread(target=follow)
        reader.start()
        errors = _write_concurrently(avatars, writers, per_writer)
        done.set()
        reader.join(timeout=30)
        assert not errors, errors

        assert seen == list(range(base + 1, base + total + 1)), "the follower saw a gap or a duplicate"
        per_avatar: dict[str, list[int]] = defaultdict(list)
        parts: list[tuple[int, int, int]] = []
        for row in models.Notification.select().order_by(models.Notification.global_seq):
            per_avatar[row.avatar_id].append(row.seq)
            if row.kind == "w":
                payload = json.loads(row.payload_json)
                parts.append((payload["writer"], payload["i"], payload["part"]))
        for avatar_id, seqs in per_avatar.items():
            assert seqs == list(range(1, len(seqs) + 1)), f"avatar {avatar_id}: {seqs}"
        # Each commit's two notifications are adjacent in the global order.
        assert all(parts[k][:2] == parts[k + 1][:2] and (parts[k][2], parts[k + 1][2]) == (0, 1) for k in range(0, len(parts), 2))
    finally:
        db.close()


def test_the_bots_state_writes_on_both_engines(database) -> None:
    """The bot's upserts (a stage's message, a waiting video, an agreement) on SQLite and on
    PostgreSQL, which knows no REPLACE: the bot once used it and failed its first stage message there."""
    create_bot_tables(database)
    state.remember(7, 70, "en")
    for message_id in (1, 2):
        state.keep_stage_message("run-1", 70, message_id)
    assert state.stage_message("run-1").message_id == 2
    state.hold_file(7, "video", "file-a", 10, "a.mp4")
    state.hold_file(7, "video", "file-b", 20, "b.mp4")
    state.hold_file(7, "picture", "file-c", 30, "c.jpg")
    assert state.take_file(7, "video").file_id == "file-b" and state.take_file(7, "video") is None
    assert state.take_file(7, "picture").file_id == "file-c"
    state.agree(7)
    first = state.agreed_at(7)
    state.agree(7)
    assert first is not None and state.agreed_at(7) == first


def test_an_installed_bots_button_table_gains_its_new_columns_and_a_keyboard_is_spent_once(database) -> None:
    """bot_callback_token as a bot made before buttons were spent: `create_tables` adds the columns,
    the old button still reads (with no keyboard: spent alone), and of a new keyboard's buttons
    only the first press spends it."""
    database.execute_sql("CREATE TABLE bot_callback_token (token VARCHAR(24) PRIMARY KEY, user_id BIGINT NOT NULL, action VARCHAR(32) NOT NULL, "
                         "avatar_id VARCHAR(32) NOT NULL, argument VARCHAR(64) NOT NULL, created_at TIMESTAMP NOT NULL)")
    database.execute_sql("INSERT INTO bot_callback_token VALUES ('old-token', 7, 'approve', 'a1', '', '2026-01-01 00:00:00')")
    create_bot_tables(database)
    create_bot_tables(database)  # a second start finds the columns there
    old = state.token("old-token")
    assert (old.keyboard, old.scope, old.used_at) == ("", "", None)
    assert state.spend(old) and not state.spend(old)

    keyboard = state.new_keyboard()
    approve, reject = (state.token(state.issue_token(7, action, "a1", "", keyboard, "run-9")) for action in ("approve", "reject"))
    assert [t.action for t in state.keyboard_of(reject)] == ["approve", "reject"] and approve.scope == "run-9"
    assert state.spend(approve)
    assert not state.spend(reject) and not state.spend(approve), "the keyboard is spent by its first press"
    assert state.token(reject.token).used_at is not None
