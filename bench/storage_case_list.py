"""Benchmark: page 1 of one client's case list with 100,000 cases in the database.

Seeds SQLite (WAL, a temporary file) and PostgreSQL (a temporary database) with the same
cases spread over many organisations, then times one page view as the portal makes it: a
unit of work, `cases.search(CaseQuery(...), scope=organisation)` for 25 cases newest first
with the total, and the end of the unit of work. Prints median and p95 per database and the
query plans, which must show the indexes in use.

    .venv/bin/python bench/storage_case_list.py
    .venv/bin/python bench/storage_case_list.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/storage_case_list.py --skip-postgres

Target: median under 10 ms on both databases (on the project's 2-core machine).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, make_url, text

from adapters.sql import SqlStorage
from adapters.sql.repositories import case_search_statements, case_values
from adapters.sql.tables import cases, organisations
from portal_core.cases.model import OPEN_STATUSES, Case, CaseStatus, Priority
from portal_core.ports import CaseQuery

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = datetime(2025, 1, 1, tzinfo=UTC)
STATUS_WEIGHTS = {
    CaseStatus.NEW: 10,
    CaseStatus.IN_PROGRESS: 15,
    CaseStatus.WAITING_ON_CLIENT: 5,
    CaseStatus.RESOLVED: 20,
    CaseStatus.CLOSED: 50,
}


def organisation_id(number: int) -> str:
    return f"org-{number:04d}"


def generated_cases(count: int, organisation_count: int, seed: int) -> Iterator[Case]:
    rng = random.Random(seed)
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    for number in range(count):
        created = START + timedelta(seconds=rng.randrange(365 * 24 * 3600))
        updated = created + timedelta(seconds=rng.randrange(30 * 24 * 3600))
        status = rng.choices(statuses, weights)[0]
        yield Case(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            organisation_id=organisation_id(rng.randrange(organisation_count)),
            reference=f"P-{number + 1:07d}",
            subject=f"Request {number + 1}: {rng.choice(['VAT', 'Payroll', 'Audit', 'Contract'])}",
            description="Generated for the benchmark.",
            priority=rng.choice(list(Priority)),
            status=status,
            submitted_by="user-1",
            assignee_id=f"staff-{rng.randrange(20)}" if status is not CaseStatus.NEW else None,
            created_at=created,
            updated_at=updated,
            resolved_at=updated if status is CaseStatus.RESOLVED else None,
            closed_at=updated if status is CaseStatus.CLOSED else None,
        )


def seed(storage: SqlStorage, *, case_count: int, organisation_count: int) -> float:
    started = time.perf_counter()
    with storage.engine.begin() as connection:
        connection.execute(
            insert(organisations),
            [
                {
                    "id": organisation_id(n),
                    "name": f"Client {n}",
                    "external_account_id": None,
                    "created_at": START,
                    "active": True,
                }
                for n in range(organisation_count)
            ],
        )
        batch: list[dict[str, object]] = []
        for case in generated_cases(case_count, organisation_count, seed=42):
            batch.append(case_values(case))
            if len(batch) == 5_000:
                connection.execute(insert(cases), batch)
                batch = []
        if batch:
            connection.execute(insert(cases), batch)
    # Statistics for the planner, and (PostgreSQL) the visibility map that lets index-only
    # scans skip the table: what autovacuum keeps up to date in production.
    with storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(
            "VACUUM ANALYZE" if connection.dialect.name == "postgresql" else "ANALYZE"
        )
    return time.perf_counter() - started


def timed(run: Callable[[], object], *, runs: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        run()
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def query_plan(storage: SqlStorage, query: CaseQuery, *, scope: str | None) -> str:
    page, count = case_search_statements(query, scope=scope)
    lines: list[str] = []
    with storage.engine.connect() as connection:
        for name, statement in (("page", page), ("count", count)):
            sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
            if connection.dialect.name == "sqlite":
                rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
                plan = "\n".join(f"    {row[-1]}" for row in rows)
            else:
                rows = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}").all()
                plan = "\n".join(f"    {row[0]}" for row in rows)
            lines.append(f"  {name}:\n{plan}")
        connection.rollback()
    return "\n".join(lines)


def measure(storage: SqlStorage, label: str, *, runs: int, organisation_count: int) -> None:
    client = organisation_id(organisation_count // 2)
    with storage.unit_of_work() as work:
        every = work.cases.search(CaseQuery(), scope=client)
        open_only = work.cases.search(CaseQuery(statuses=OPEN_STATUSES), scope=client)
    print(f"\n{label}: client {client} has {every.total} cases, {open_only.total} open")
    for name, query in (
        ("all cases, page 1", CaseQuery(page_size=25)),
        ("open cases, page 1", CaseQuery(statuses=OPEN_STATUSES, page_size=25)),
    ):

        def page_view(query: CaseQuery = query) -> object:
            with storage.unit_of_work() as work:
                return work.cases.search(query, scope=client)

        durations = timed(page_view, runs=runs)
        median = statistics.median(durations)
        p95 = statistics.quantiles(durations, n=20)[-1]
        print(f"  {name:<20} median {median:6.2f} ms   p95 {p95:6.2f} ms   ({runs} runs)")
    open_page = CaseQuery(statuses=OPEN_STATUSES)
    print("  query plan (open cases, page 1):\n" + query_plan(storage, open_page, scope=client))

    staff_queue = CaseQuery(statuses=frozenset({CaseStatus.IN_PROGRESS}), page_size=25)

    def queue_view() -> object:
        with storage.unit_of_work() as work:
            return work.cases.search(staff_queue, scope=None)

    durations = timed(queue_view, runs=runs)
    median = statistics.median(durations)
    p95 = statistics.quantiles(durations, n=20)[-1]
    print(
        f"  staff queue (in progress, every client), page 1: median {median:6.2f} ms   p95 {p95:6.2f} ms"
    )
    print("  query plan (staff queue, page 1):\n" + query_plan(storage, staff_queue, scope=None))


@contextmanager
def sqlite_storage() -> Iterator[SqlStorage]:
    with tempfile.TemporaryDirectory() as directory:
        storage = SqlStorage.from_url(f"sqlite:///{Path(directory) / 'bench.db'}")
        try:
            yield storage
        finally:
            storage.dispose()


@contextmanager
def postgres_storage(url: str) -> Iterator[SqlStorage]:
    name = f"portal_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    storage = SqlStorage.from_url(
        make_url(url).set(database=name).render_as_string(hide_password=False)
    )
    try:
        yield storage
    finally:
        storage.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--organisations", type=int, default=200)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--skip-postgres", action="store_true")
    arguments = parser.parse_args()

    backends: list[tuple[str, Callable[[], object]]] = [("SQLite (WAL)", sqlite_storage)]
    if not arguments.skip_postgres:
        backends.append(("PostgreSQL", lambda: postgres_storage(arguments.postgres)))
    for label, open_storage in backends:
        with open_storage() as storage:  # type: ignore[attr-defined]
            storage.upgrade()
            seconds = seed(
                storage, case_count=arguments.cases, organisation_count=arguments.organisations
            )
            print(f"\n{label}: seeded {arguments.cases:,} cases in {seconds:.1f} s")
            measure(storage, label, runs=arguments.runs, organisation_count=arguments.organisations)


if __name__ == "__main__":
    main()
