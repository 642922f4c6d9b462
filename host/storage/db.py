"""Opens the metadata database (SQLite in WAL mode by default, PostgreSQL by URL) and migrates it.

Every process (host, workers, CLI) calls `init_database` once; models bind through the proxy, so the
same code runs on both engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import peewee
from playhouse.db_url import connect, parse
from playhouse.migrations import Runner
from playhouse.shortcuts import ReconnectMixin

from host.errors import Unavailable
from host.storage.blobs import disk_full

database_proxy = peewee.DatabaseProxy()

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 30_000,
}


class ReconnectingPostgres(ReconnectMixin, peewee.PostgresqlDatabase):
    """PostgreSQL that opens a new connection when the server dropped the old one (a restart, a
    network link that went down and came back, the server's keepalives giving up on a silent
    client): without it, every later query of a long-lived worker fails with "connection already
    closed" until the process restarts. Only outside a transaction: one cut short is never retried."""

    reconnect_errors = (
        (peewee.OperationalError, "server closed the connection"),
        (peewee.OperationalError, "terminating connection"),
        (peewee.OperationalError, "connection timed out"),
        (peewee.OperationalError, "could not receive data"),
        (peewee.OperationalError, "could not send data"),
        (peewee.OperationalError, "ssl syscall error"),
        (peewee.InterfaceError, "connection already closed"),
    )


def open_database(url: str) -> peewee.Database:
    """Connects by URL; SQLite gets WAL and a busy timeout so several processes can share it. The
    URL's query passes libpq's options through (e.g. ?connect_timeout=5&tcp_user_timeout=10000, to
    notice a dead network link in seconds: docs/RELIABILITY.md)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        db = connect(url, pragmas=SQLITE_PRAGMAS, timeout=30)
    elif url.split("://", 1)[0] in ("postgres", "postgresql"):
        db = ReconnectingPostgres(**parse(url))
    else:
        db = connect(url)
    try:
        db.connect(reuse_if_open=True)
    except peewee.OperationalError as exc:
        raise Unavailable(
            stage="storage",
            code="database_unavailable",
            cause=f"cannot open the database at {redacted(url)}: {exc}",
            advice="check that the database server is running and TWINFORGE_DATABASE_URL is right",
        ) from exc
    return db


@contextmanager
def full_disk_as_unavailable() -> Iterator[None]:
    """SQLite only says "database or disk is full"; the person needs to hear which disk and what to do.

    A COMMIT refused for a full disk rolls back by itself, so the ROLLBACK that follows fails and
    hides it: the cause is looked for along the chain of errors."""
    try:
        yield
    except peewee.OperationalError as exc:
        db = database_proxy.obj
        chain = [exc]
        while chain[-1].__context__ is not None and len(chain) < 8:
            chain.append(chain[-1].__context__)
        if isinstance(db, peewee.SqliteDatabase) and any("disk is full" in str(e) for e in chain):
            raise disk_full(Path(db.database).parent, "the change was not saved") from exc
        raise


def migrate(db: peewee.Database) -> list[str]:
    """Applies every numbered migration not yet recorded; returns the names applied."""
    return list(Runner(db, str(MIGRATIONS_DIR)).up() or [])


def init_database(url: str, run_migrations: bool = True) -> peewee.Database:
    """Opens, migrates and binds the database for this process.

    `twinforge up` migrates once before it starts its children, which pass run_migrations=False so
    that no two processes race to apply the same migration.
    """
    db = open_database(url)
    if run_migrations:
        migrate(db)
    database_proxy.initialize(db)
    return db


def redacted(url: str) -> str:
    """The URL without its password, so credentials never reach logs or messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
