"""What only the SQL adapter has: migrations, the schema check, database constraints and
faults, and the verification of the stored audit chain."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from attrs import evolve
from sqlalchemy import Connection, create_engine, make_url, select, text
from sqlalchemy.exc import DBAPIError, StatementError

from adapters.sql import SchemaOutOfDate, SqlStorage, StorageUnavailable
from adapters.sql.tables import case_events, metadata
from portal_core.cases.model import CaseSubmitted
from portal_core.errors import InvalidInput, NotFound

from .factories import at, audit_record, case, organisation, submitted_case


def test_the_migrations_build_exactly_the_tables_the_code_uses(sql_storage: SqlStorage) -> None:
    with sql_storage.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_a_migrated_database_is_current(sql_storage: SqlStorage) -> None:
    assert sql_storage.schema_is_current()
    sql_storage.require_current_schema()
    sql_storage.upgrade()  # upgrading a current schema changes nothing
    assert sql_storage.schema_is_current()


def test_an_empty_embedded_database_migrates_itself(tmp_path: Path) -> None:
    storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        assert storage.is_embedded
        assert not storage.schema_is_current()
        with pytest.raises(SchemaOutOfDate, match=r"no portal tables.*Run `portal db upgrade`"):
            storage.require_current_schema()
        storage.prepare()
        assert storage.schema_is_current()
        with storage.unit_of_work() as work:
            work.organisations.add(organisation("org-1"))
            work.commit()
    finally:
        storage.dispose()


@pytest.fixture
def empty_postgres_url(postgres_database_url: str) -> Iterator[str]:
    """The session's database seen through an empty schema of its own (cheaper than a database)."""
    schema = f"empty_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.mark.postgres
def test_a_production_database_out_of_date_refuses_to_start(empty_postgres_url: str) -> None:
    storage = SqlStorage.from_url(empty_postgres_url)
    try:
        assert not storage.is_embedded
        with pytest.raises(SchemaOutOfDate, match=r"Run `portal db upgrade`"):
            storage.prepare()
        storage.upgrade()
        storage.prepare()
        assert storage.schema_is_current()
    finally:
        storage.dispose()


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    storage = SqlStorage.from_url("postgresql://portal@db.example/portal")
    assert storage.engine.dialect.driver == "psycopg"
    storage.dispose()


def test_an_unknown_database_is_refused() -> None:
    with pytest.raises(ValueError, match="Unsupported database"):
        SqlStorage.from_url("mysql://portal@db.example/portal")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_embedded_database_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="needs a file"):
        SqlStorage.from_url(url)


def test_the_embedded_database_uses_wal_and_enforces_foreign_keys(tmp_path: Path) -> None:
    storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'portal.db'}")
    try:
        with storage.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        storage.dispose()


def test_a_case_of_an_unknown_organisation_is_refused_as_not_found(
    sql_storage: SqlStorage,
) -> None:
    with sql_storage.unit_of_work() as work:
        with pytest.raises(NotFound, match="organisation does not exist"):
            work.cases.add(case("c-1", "org-9"))
        work.organisations.add(organisation("org-1"))  # still usable
        work.commit()
    with sql_storage.unit_of_work() as work:
        assert work.cases.get("c-1") is None
        assert work.organisations.get("org-1") is not None


@pytest.mark.postgres
def test_text_postgresql_cannot_hold_is_refused_as_invalid_input(
    postgres_storage: SqlStorage,
) -> None:
    with postgres_storage.unit_of_work() as work:
        work.organisations.add(organisation("org-1"))
        with pytest.raises(InvalidInput, match="cannot be stored"):
            work.cases.add(evolve(case("c-1"), subject="nul\x00byte"))
        work.commit()
    with (
        postgres_storage.unit_of_work() as work,
        pytest.raises(InvalidInput, match="cannot be stored"),
    ):
        work.audit.append(evolve(audit_record("a-1"), details={"note": "nul\x00byte"}))
    with postgres_storage.unit_of_work() as work:
        assert work.organisations.get("org-1") is not None
        assert work.cases.get("c-1") is None


# --- the audit trail ----------------------------------------------------------------------


def _append_audit(storage: SqlStorage, count: int) -> None:
    with storage.unit_of_work() as work:
        for number in range(1, count + 1):
            work.audit.append(audit_record(f"a-{number}", minute=number))
        work.commit()


def _without_append_only_guard(connection: Connection) -> None:
    """What someone with the database owner's rights could do: switch the guard off."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("ALTER TABLE audit_entries DISABLE TRIGGER USER")
    else:
        connection.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
        connection.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")


@pytest.fixture
def restores_audit_guard(sql_storage: SqlStorage) -> Iterator[SqlStorage]:
    yield sql_storage
    if sql_storage.engine.dialect.name == "postgresql":
        with sql_storage.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE audit_entries ENABLE TRIGGER USER")


def test_an_intact_audit_chain_verifies(sql_storage: SqlStorage) -> None:
    assert sql_storage.verify_audit_chain().ok
    with sql_storage.engine.begin() as connection:  # the end recorded before any entry
        connection.exec_driver_sql("INSERT INTO audit_head (id, sequence, hash) VALUES (1, 0, '')")
    assert sql_storage.verify_audit_chain().ok
    _append_audit(sql_storage, 5)
    verification = sql_storage.verify_audit_chain()
    assert (verification.ok, verification.entries_checked) == (True, 5)
    assert verification.first_broken_sequence is None


def test_verification_reads_a_snapshot_without_waiting_for_writers(
    sql_storage: SqlStorage,
) -> None:
    _append_audit(sql_storage, 2)
    with sql_storage.unit_of_work() as writing:
        writing.audit.append(audit_record("a-3"))  # holds SQLite's write lock, uncommitted
        verification = sql_storage.verify_audit_chain()
        assert sql_storage.schema_is_current()
        writing.commit()
    assert (verification.ok, verification.entries_checked) == (True, 2)


def test_a_read_only_unit_of_work_reads_a_snapshot_without_waiting_for_writers(
    sql_storage: SqlStorage,
) -> None:
    with sql_storage.unit_of_work() as setting_up:
        setting_up.organisations.add(organisation("org-1"))
        setting_up.commit()
    with sql_storage.unit_of_work() as writing:
        writing.organisations.add(organisation("org-2"))  # holds SQLite's write lock
        # Two readers at once, as two requests would: neither queues behind the writer.
        with (
            sql_storage.unit_of_work(read_only=True) as first,
            sql_storage.unit_of_work(read_only=True) as second,
        ):
            assert [o.id for o in first.organisations.list()] == ["org-1"]
            assert [o.id for o in second.organisations.list()] == ["org-1"]
        writing.commit()


def test_the_audit_trail_cannot_be_changed_or_deleted(sql_storage: SqlStorage) -> None:
    _append_audit(sql_storage, 2)
    for statement in (
        "UPDATE audit_entries SET action = 'nothing' WHERE sequence = 1",
        "DELETE FROM audit_entries WHERE sequence = 2",
    ):
        with (
            sql_storage.engine.connect() as connection,
            pytest.raises(DBAPIError, match="append-only"),
        ):
            connection.exec_driver_sql(statement)
    assert sql_storage.verify_audit_chain().ok


def test_a_changed_entry_is_named_as_the_first_broken_one(restores_audit_guard: SqlStorage) -> None:
    storage = restores_audit_guard
    _append_audit(storage, 5)
    with storage.engine.begin() as connection:
        _without_append_only_guard(connection)
        connection.exec_driver_sql(
            "UPDATE audit_entries SET actor_id = 'someone-else' WHERE sequence = 3"
        )
    verification = storage.verify_audit_chain()
    assert (verification.ok, verification.first_broken_sequence, verification.first_broken_id) == (
        False,
        3,
        "a-3",
    )
    assert verification.entries_checked == 3


def test_a_removed_entry_in_the_middle_breaks_the_chain(restores_audit_guard: SqlStorage) -> None:
    storage = restores_audit_guard
    _append_audit(storage, 5)
    with storage.engine.begin() as connection:
        _without_append_only_guard(connection)
        connection.exec_driver_sql("DELETE FROM audit_entries WHERE sequence = 2")
    verification = storage.verify_audit_chain()
    assert (verification.ok, verification.first_broken_sequence, verification.first_broken_id) == (
        False,
        3,
        "a-3",
    )


def test_removed_newest_entries_are_noticed(restores_audit_guard: SqlStorage) -> None:
    storage = restores_audit_guard
    _append_audit(storage, 5)
    with storage.engine.begin() as connection:
        _without_append_only_guard(connection)
        connection.exec_driver_sql("DELETE FROM audit_entries WHERE sequence > 3")
    verification = storage.verify_audit_chain()
    assert (verification.ok, verification.entries_checked, verification.first_broken_sequence) == (
        False,
        3,
        4,
    )
    assert verification.problem == "Entries 4 to 5 are missing."


def test_a_removed_record_of_the_chains_end_is_noticed(restores_audit_guard: SqlStorage) -> None:
    storage = restores_audit_guard
    _append_audit(storage, 3)
    with storage.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM audit_head")
    verification = storage.verify_audit_chain()
    assert (verification.ok, verification.entries_checked) == (False, 3)
    assert verification.problem is not None
    assert "end is missing" in verification.problem


# --- faults ------------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_connection_lost_mid_transaction_writes_nothing(postgres_storage: SqlStorage) -> None:
    storage = postgres_storage
    with storage.unit_of_work() as work:
        work.organisations.add(organisation("org-1"))
        work.audit.append(audit_record("a-1"))
        with storage.engine.connect() as other:
            terminated = other.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND state = 'idle in transaction' "
                    "AND pid <> pg_backend_pid()"
                )
            ).all()
            other.rollback()
        assert terminated == [(True,)]
        with pytest.raises(StorageUnavailable, match="nothing from this unit of work was saved"):
            work.organisations.add(organisation("org-2"))
    with storage.unit_of_work() as work:  # the pool recovers by itself
        assert work.organisations.list() == []
        assert list(work.audit.entries()) == []


@pytest.mark.postgres
def test_a_connection_lost_at_commit_writes_nothing(postgres_storage: SqlStorage) -> None:
    storage = postgres_storage
    with storage.unit_of_work() as work:
        work.organisations.add(organisation("org-1"))
        with storage.engine.connect() as other:
            other.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND state = 'idle in transaction' "
                    "AND pid <> pg_backend_pid()"
                )
            )
            other.rollback()
        with pytest.raises(StorageUnavailable):
            work.commit()
    with storage.unit_of_work() as work:
        assert work.organisations.list() == []


def test_an_unreachable_database_is_reported_clearly() -> None:
    storage = SqlStorage.from_url(
        "postgresql+psycopg://portal@127.0.0.1:1/portal?connect_timeout=1"
    )
    try:
        with pytest.raises(StorageUnavailable, match="cannot be reached"), storage.unit_of_work():
            pass
    finally:
        storage.dispose()


def test_threads_sharing_one_storage_take_turns_without_losing_numbers(
    sql_storage: SqlStorage,
) -> None:
    """The embedded default serves requests from a thread pool: its writers must queue, not fail."""

    def take_number(attempt: int) -> int | None:
        with sql_storage.unit_of_work() as work:
            work.organisations.list()  # read first, write later: the case SQLite must not refuse
            number = work.counters.next_value("REF")
            if attempt % 5 == 0:
                work.rollback()
                return None
            work.commit()
            return number

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = [n for n in pool.map(take_number, range(100)) if n is not None]
    assert sorted(numbers) == list(range(1, 81))


def test_the_commit_counter_moves_with_every_commit_and_only_then(tmp_path: Path) -> None:
    storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'counted.db'}")
    other_process = SqlStorage.from_url(f"sqlite:///{tmp_path / 'counted.db'}")
    try:
        storage.upgrade()
        counter = storage.commit_counter()
        assert counter is not None
        before = counter()
        with storage.unit_of_work(read_only=True) as reading:
            reading.organisations.list()
        with other_process.unit_of_work() as writing:
            writing.organisations.add(organisation("org-1"))  # not committed
        assert counter() == before
        with other_process.unit_of_work() as writing:
            writing.organisations.add(organisation("org-1"))
            writing.commit()
        assert counter() != before
    finally:
        storage.dispose()
        other_process.dispose()


@pytest.mark.postgres
def test_postgresql_offers_no_commit_counter(postgres_storage: SqlStorage) -> None:
    assert postgres_storage.commit_counter() is None


def stored_case_submission(storage: SqlStorage) -> CaseSubmitted:
    """Case c-1 of org-1, stored: the event that submitted it."""
    made, submitted = submitted_case("c-1")
    with storage.unit_of_work() as work:
        work.organisations.add(organisation("org-1"))
        work.cases.add(made)
        work.commit()
    return submitted


def test_a_batch_holding_a_time_without_a_timezone_is_refused_whole(
    sql_storage: SqlStorage,
) -> None:
    submitted = stored_case_submission(sql_storage)
    naive = evolve(submitted, event_id="e-2", occurred_at=at(1).replace(tzinfo=None))
    with sql_storage.unit_of_work() as work, pytest.raises(StatementError, match="timezone-aware"):
        work.history.append_many([submitted, naive])
    with sql_storage.unit_of_work() as work:
        assert list(work.history.for_case("c-1")) == []


def test_a_batch_holding_a_time_in_another_zone_stores_the_same_instant(
    sql_storage: SqlStorage,
) -> None:
    submitted = stored_case_submission(sql_storage)
    in_paris = at(1).astimezone(timezone(timedelta(hours=2)))
    later = evolve(submitted, event_id="e-2", occurred_at=in_paris)
    with sql_storage.unit_of_work() as work:
        work.history.append_many([submitted, later])
        work.commit()
    with sql_storage.engine.connect() as connection:
        column = connection.execute(
            select(case_events.c.occurred_at).where(case_events.c.event_id == "e-2")
        ).scalar_one()
    assert column == at(1)
    assert column.utcoffset() == timedelta(0)
