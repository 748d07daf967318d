"""`SqlStorage`: the engine, its schema migrations, and units of work over it.

One database URL picks the database: `sqlite:///path/portal.db` for the embedded default
(WAL mode, which migrates itself) or `postgresql+psycopg://...` for production.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from attrs import frozen
from sqlalchemy import Connection, Engine, create_engine, event, make_url, select, text
from sqlalchemy.engine import URL

from adapters.sql import tables as t
from adapters.sql.errors import SchemaOutOfDate
from adapters.sql.repositories import Database, SqlAuditLog
from adapters.sql.serialisation import EventCodec
from adapters.sql.unit_of_work import READ_ONLY, SqlUnitOfWork
from portal_core.audit import SealedAuditRecord, first_broken_entry

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_SECONDS = 30
SQLITE_POOL_SIZE = 40
# Any fixed number: serialises `portal db upgrade` run by several processes at once.
_MIGRATION_LOCK_KEY = 7_277_001


@frozen(kw_only=True)
class AuditVerification:
    """The result of checking the audit trail's hash chain from its first entry."""

    ok: bool
    entries_checked: int
    first_broken_sequence: int | None = None
    first_broken_id: str | None = None
    problem: str | None = None


def _normalised_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not psycopg2
    return parsed


def _prepare_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that read first and
        # writes later fails outright (SQLITE_BUSY_SNAPSHOT) when another writer got in between.
        # Read-only work (checks, verification) reads a WAL snapshot without blocking writers.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


class SqlStorage:
    """The portal's state in SQLite or PostgreSQL. `storage.unit_of_work` is a UnitOfWorkFactory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._codec = EventCodec()
        self._counter_lock = threading.Lock()
        self._counter_connection: sqlite3.Connection | None = None

    @classmethod
    def from_url(cls, url: str, *, echo: bool = False) -> SqlStorage:
        """An engine for `url`; nothing connects until the first unit of work."""
        parsed = _normalised_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database in (None, "", ":memory:"):
                # One in-memory database per connection: units of work would not see each other.
                raise ValueError(
                    "The embedded database needs a file, e.g. sqlite:///var/portal.db "
                    "(an in-memory SQLite database cannot be shared by units of work)."
                )
            engine = create_engine(
                parsed,
                echo=echo,
                # As many as the web server's worker threads (anyio's default limit, 40): a
                # connection beyond the pool is closed after use, and its successor pays for
                # the pragmas again and starts with a cold page cache.
                pool_size=SQLITE_POOL_SIZE,
                max_overflow=10,
                connect_args={
                    "check_same_thread": False,
                    "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                },
            )
            _prepare_sqlite(engine)
        elif parsed.get_backend_name() == "postgresql":
            engine = create_engine(
                parsed,
                echo=echo,
                pool_size=10,
                max_overflow=10,
                pool_timeout=30,
                pool_pre_ping=False,
                pool_recycle=1800,
            )
        else:
            raise ValueError(
                f"Unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql."
            )
        return cls(engine)

    @property
    def is_embedded(self) -> bool:
        """True for SQLite, the one-command default, which migrates its own schema."""
        return self.engine.dialect.name == "sqlite"

    def unit_of_work(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self._codec, read_only=read_only)

    # --- schema ---------------------------------------------------------------------------------

    def _alembic_config(self, connection: Connection) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        return config

    def upgrade(self) -> None:
        """Bring the schema to the newest revision (`portal db upgrade`)."""
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            command.upgrade(self._alembic_config(connection), "head")

    def _revisions(self) -> tuple[set[str], set[str]]:
        """(the database's current revisions, the newest revisions this code knows)."""
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
            connection.rollback()
        heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
        return current, heads

    def schema_is_current(self) -> bool:
        current, heads = self._revisions()
        return current == heads

    def require_current_schema(self) -> None:
        """Raise SchemaOutOfDate, naming the command to run, unless the schema is current."""
        current, heads = self._revisions()
        if current == heads:
            return
        found = ", ".join(sorted(current)) or "no portal tables"
        needed = ", ".join(sorted(heads))
        raise SchemaOutOfDate(
            f"The database schema is out of date (it has {found}; this version of the portal "
            f"needs {needed}). Run `portal db upgrade` to migrate it, then start again."
        )

    def prepare(self) -> None:
        """What a service does at start: the embedded default migrates itself, others check."""
        if self.is_embedded:
            self.upgrade()
        else:
            self.require_current_schema()

    # --- audit ----------------------------------------------------------------------------------

    def verify_audit_chain(self) -> AuditVerification:
        """Check every audit entry's link and hash; name the first entry that does not add up."""
        # One snapshot for the whole walk, while appends carry on.
        connection = self.engine.connect().execution_options(**{READ_ONLY: True})
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection:
            db = Database(connection, self._codec)
            checked = 0
            last: SealedAuditRecord | None = None

            def counted() -> Iterator[SealedAuditRecord]:
                nonlocal checked, last
                for entry in SqlAuditLog(db).entries():
                    checked += 1
                    last = entry
                    yield entry

            broken = first_broken_entry(counted())
            head = connection.execute(
                select(t.audit_head.c.sequence, t.audit_head.c.hash).where(t.audit_head.c.id == 1)
            ).first()
            connection.rollback()
        if broken is not None:
            return AuditVerification(
                ok=False,
                entries_checked=checked,
                first_broken_sequence=broken.sequence,
                first_broken_id=broken.record.id,
                problem=f"Entry {broken.sequence} does not follow from the entry before it.",
            )
        last_sequence = last.sequence if last is not None else 0
        last_hash = last.hash if last is not None else None
        # The head row records where the chain ends; (0, None) when nothing was ever sealed.
        recorded_end = (head.sequence, head.hash) if head and head.sequence else (0, None)
        if recorded_end != (last_sequence, last_hash):
            head_sequence = recorded_end[0]
            if head_sequence == 0:
                problem = "The record of the chain's end is missing: its newest entries cannot be confirmed."
            elif head_sequence > last_sequence:
                problem = f"Entries {last_sequence + 1} to {head_sequence} are missing."
            else:
                problem = f"The chain's recorded end ({head_sequence}) does not match its entries."
            return AuditVerification(
                ok=False,
                entries_checked=checked,
                first_broken_sequence=min(last_sequence + 1, head_sequence) or None,
                problem=problem,
            )
        return AuditVerification(ok=True, entries_checked=checked)

    def commit_counter(self) -> Callable[[], int] | None:
        """A number that changes whenever anything commits to the database, read without a
        transaction or a lock; None where the database offers none.

        SQLite's `PRAGMA data_version` on a connection of its own, which never writes: the
        value changes when any other connection, of this process or another, commits. Reading
        it costs a few microseconds (the WAL index in shared memory). PostgreSQL has no such
        cheap counter: there, None."""
        if self.engine.dialect.name != "sqlite":
            return None
        with self._counter_lock:
            if self._counter_connection is None:
                path = self.engine.url.database
                assert path is not None, "SqlStorage.from_url refuses an in-memory database"
                self._counter_connection = sqlite3.connect(
                    path, check_same_thread=False, isolation_level=None
                )
        connection = self._counter_connection
        lock = self._counter_lock

        def current() -> int:
            with lock:
                version: int = connection.execute("PRAGMA data_version").fetchone()[0]
            return version

        return current

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, and in tests)."""
        self.engine.dispose()
        with self._counter_lock:
            if self._counter_connection is not None:
                self._counter_connection.close()
                self._counter_connection = None
