"""Inbound Salesforce notifications per second, against the raw idempotent-insert rate.

    .venv/bin/python bench/sync_inbound.py                       # SQLite and PostgreSQL
    .venv/bin/python bench/sync_inbound.py --skip-postgres --notifications 2000

Each notification goes the whole way a real one goes: the SOAP body is parsed (any DTD refused),
translated through the field mapping, and applied by `SyncService` in one unit of work per
message (processed-event record, case read and update, history, audit, outbox row), and the
Ack is built after the commit. The workload: cases already known to the portal (imported
first), messages of 1 and of 100 notifications, 30% of the notifications re-deliveries of
earlier ones. The raw rate is the cheapest idempotent record of the same notification ids the
database offers: one `INSERT ... ON CONFLICT DO NOTHING RETURNING` of the whole batch into the
same processed_events table (`RECORD_PROCESSED`, the statement `ProcessedEvents.record_many`
runs: on PostgreSQL the keys as two arrays unnested into rows), through the
same engine and driver, one transaction per batch of the same size as the messages (1 and
100), with the same 30% of repeats, in the same run. It measures what the database costs for
"remember these ids once" alone: no parsing, no case, history, audit or outbox.

A third figure, "database alone", is what the database needs for the very work the path did:
every statement the inbound path sent (as the driver received it, parameters included) and
every commit are replayed through the bare driver connection on a second database brought to
the same starting state, with no parsing, mapping, domain code or SQLAlchemy in between. Its
share of the raw rate is the ceiling of the whole path's share.

PostgreSQL: scratch databases are created on the server of `--postgres-url` and dropped after.
Targets on our 2-core machine: at least 1,000 notifications/s on PostgreSQL, and at least 25%
of the raw insert rate. Not a test: it checks only that the work was really done.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import psycopg
from sqlalchemy import Connection, event, make_url

from adapters.memory.clock import FixedClock
from adapters.salesforce import (
    ACK,
    CaseRecordCodec,
    OutboundMessageParser,
    SalesforceMapping,
    handle_outbound_message,
)
from adapters.sql import SqlStorage
from adapters.sql import tables as t
from adapters.sql.repositories import RECORD_PROCESSED, record_processed_parameters
from portal_core.cases.model import CaseStatus
from portal_core.dispatch import EventDispatcher
from portal_core.organisations.model import Organisation
from portal_core.sync import SOURCE_OUTBOUND_MESSAGE, InboundCaseChange, SyncService

ORGANIZATION_ID = "00D000000000001EAA"
ACCOUNT = "001000000000ACMEAA"
START = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)
STATUSES = ("Working", "Waiting on Client", "New", "Escalated")
DUPLICATE_SHARE = 0.3
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class UuidIds:
    def new_id(self) -> str:
        return os.urandom(16).hex()


def notification(notification_id: str, case_number: int, version: int) -> str:
    modified = START + timedelta(seconds=version)
    stamp = modified.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return (
        f"<Notification><Id>{notification_id}</Id>"
        '<sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>500{case_number:015d}</sf:Id><sf:CaseNumber>{case_number:08d}</sf:CaseNumber>"
        f"<sf:Subject>Case {case_number}</sf:Subject>"
        f"<sf:Status>{STATUSES[version % len(STATUSES)]}</sf:Status>"
        "<sf:Priority>Medium</sf:Priority>"
        f"<sf:AccountId>{ACCOUNT}</sf:AccountId>"
        f"<sf:LastModifiedDate>{stamp}</sf:LastModifiedDate>"
        "</sObject></Notification>"
    )


def envelope(notifications: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{ORGANIZATION_ID}</OrganizationId><ActionId>04k000000000001AAA</ActionId>"
        '<SessionId xsi:nil="true"/><EnterpriseUrl>https://x</EnterpriseUrl>'
        "<PartnerUrl>https://x</PartnerUrl>" + "".join(notifications) + "</notifications>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def workload(
    *, total: int, per_message: int, cases: int, seed: int, prefix: str, first_case: int = 0
) -> tuple[list[bytes], int]:
    """Messages carrying `total` notifications, 30% of them re-deliveries of earlier ones."""
    rng = random.Random(seed)
    sent: list[str] = []
    versions = itertools.count(10_000)
    messages: list[bytes] = []
    fresh = 0
    for start in range(0, total, per_message):
        batch = []
        for _ in range(min(per_message, total - start)):
            if sent and rng.random() < DUPLICATE_SHARE:
                batch.append(rng.choice(sent))
                continue
            version = next(versions)
            case_number = first_case + rng.randrange(cases)
            item = notification(f"04l{prefix}{version:012d}", case_number, version)
            sent.append(item)
            batch.append(item)
            fresh += 1
        messages.append(envelope(batch))
    return messages, fresh


COMMIT = "COMMIT"
SETUP = "setup"


@attrs.define
class StatementLog:
    """Every statement the engine sends while `phase` is set, with the parameters the driver
    got, and every commit, in order: what `database_alone` replays."""

    phase: Hashable | None = None
    entries: list[tuple[Hashable, str, object, bool]] = attrs.Factory(list)

    def attach(self, storage: SqlStorage) -> None:
        event.listen(storage.engine, "before_cursor_execute", self._statement)
        event.listen(storage.engine, "commit", self._commit)

    def _statement(
        self,
        _connection: Connection,
        _cursor: object,
        statement: str,
        parameters: object,
        _context: object,
        executemany: bool,
    ) -> None:
        if self.phase is not None:
            # SQLAlchemy also reports a multi-row INSERT it built from an executemany as one
            # (insertmanyvalues), but sends it with a single execute of one flat parameter set.
            many = (
                executemany
                and isinstance(parameters, list | tuple)
                and all(isinstance(row, list | tuple | dict) for row in parameters)
            )
            self.entries.append((self.phase, statement, parameters, many))

    def _commit(self, _connection: Connection) -> None:
        if self.phase is not None:
            self.entries.append((self.phase, COMMIT, None, False))


def database_alone(url: str, log: StatementLog) -> dict[Hashable, float]:
    """Replay `log` through one bare driver connection on a new database at `url`: the seconds
    each phase took. The setup phase brings it to the state the measured phases started from."""
    storage = SqlStorage.from_url(url)
    storage.upgrade()
    connection = storage.engine.raw_connection()
    spent: defaultdict[Hashable, float] = defaultdict(float)
    try:
        for phase, statement, parameters, executemany in log.entries:
            started = time.perf_counter()
            if statement == COMMIT:
                connection.commit()
            else:
                cursor = connection.cursor()
                if executemany:
                    cursor.executemany(statement, parameters)  # type: ignore[arg-type]
                else:
                    cursor.execute(statement, parameters)  # type: ignore[arg-type]
                if cursor.description is not None:
                    cursor.fetchall()
                cursor.close()
            spent[phase] += time.perf_counter() - started
    finally:
        connection.close()
        storage.dispose()
    return spent


def prepare(storage: SqlStorage, cases: int) -> SyncService:
    with storage.unit_of_work() as uow:
        uow.organisations.add(
            Organisation(id="acme", name="Acme", external_account_id=ACCOUNT, created_at=START)
        )
        uow.commit()
    sync = SyncService(
        uow=storage.unit_of_work,
        clock=FixedClock(START),
        ids=UuidIds(),
        dispatcher=EventDispatcher(),
    )
    for first in range(0, cases, 100):  # the cases exist already: an onboarded client
        sync.apply(
            [
                InboundCaseChange(
                    source="bench:import",
                    event_id=f"import-{n}",
                    external_id=f"500{n:015d}",
                    modified_at=START,
                    account_id=ACCOUNT,
                    number=f"{n:08d}",
                    subject=f"Case {n}",
                    description="",
                    status=CaseStatus.NEW,
                    whole_record=True,
                )
                for n in range(first, min(first + 100, cases))
            ]
        )
    return sync


@attrs.frozen
class Figures:
    per_message: int
    notifications: int
    fresh: int
    rate: float
    """Notifications per second, the whole inbound path."""
    raw_rate: float
    """Idempotent inserts per second into the same table, same transaction size."""


def measure(
    storage: SqlStorage,
    sync: SyncService,
    *,
    per_message: int,
    total: int,
    cases: int,
    log: StatementLog,
    rounds: int = 5,
) -> Figures:
    """Interleave rounds of raw inserts and of notifications, so that both meet the same load
    from anything else on the machine; each rate is its work over its summed time."""
    parser = OutboundMessageParser(
        organization_id=ORGANIZATION_ID, codec=CaseRecordCodec(SalesforceMapping())
    )
    prefix = f"{per_message:03d}"
    messages, fresh = workload(
        total=total, per_message=per_message, cases=cases, seed=per_message, prefix=prefix
    )
    rng = random.Random(7)
    keys = [f"raw-{prefix}-{n}" for n in range(total)]
    # The same share of repeats as the notifications, so ON CONFLICT does the same share of work.
    keys = [
        rng.choice(keys[: max(n, 1)]) if rng.random() < DUPLICATE_SHARE else key
        for n, key in enumerate(keys)
    ]
    raw_batches = [keys[i : i + per_message] for i in range(0, total, per_message)]
    dialect = storage.engine.dialect.name
    statement = RECORD_PROCESSED[dialect]
    raw_time = inbound_time = 0.0
    for round_number in range(rounds):
        started = time.perf_counter()
        for batch in raw_batches[round_number::rounds]:
            with storage.engine.begin() as connection:
                pairs = [("bench:raw", key) for key in batch]
                parameters = record_processed_parameters(dialect, pairs, at=START)
                connection.execute(statement, parameters).all()
        raw_time += time.perf_counter() - started
        log.phase = per_message
        started = time.perf_counter()
        for body in messages[round_number::rounds]:
            reply = handle_outbound_message(body, "text/xml", parser=parser, sync=sync)
            if reply.status != 200 or reply.body != ACK:
                raise SystemExit(f"a message was refused: {reply.status} {reply.body[:300]!r}")
        inbound_time += time.perf_counter() - started
        log.phase = None
    with storage.engine.connect() as connection:
        recorded = connection.execute(
            t.processed_events.select().where(
                t.processed_events.c.source == SOURCE_OUTBOUND_MESSAGE
            )
        ).fetchall()
    if len({row.event_id for row in recorded if row.event_id[3:6] == prefix}) != fresh:
        raise SystemExit("the processed-event records do not match the fresh notifications")
    return Figures(
        per_message=per_message,
        notifications=total,
        fresh=fresh,
        rate=total / inbound_time,
        raw_rate=total / raw_time,
    )


@contextmanager
def scratch_postgres(url: str, purpose: str) -> Iterator[str]:
    parsed = make_url(url)
    name = f"{purpose}_sync_{os.getpid()}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(label: str, url: str, replay_url: str, *, total: int, cases: int) -> None:
    storage = SqlStorage.from_url(url)
    log = StatementLog()
    results = []
    try:
        storage.upgrade()
        log.attach(storage)
        log.phase = SETUP
        sync = prepare(storage, cases)
        log.phase = None
        for per_message in (1, 100):
            count = min(total, 2000) if per_message == 1 else total
            results.append(
                measure(storage, sync, per_message=per_message, total=count, cases=cases, log=log)
            )
    finally:
        storage.dispose()
    alone = database_alone(replay_url, log)
    for figures in results:
        alone_rate = figures.notifications / alone[figures.per_message]
        print(
            f"{label:<10} {figures.per_message:>3}/msg  {figures.rate:>7,.0f} notifications/s   "
            f"raw insert {figures.raw_rate:>7,.0f}/s ({figures.per_message} per tx)   "
            f"{figures.rate / figures.raw_rate:>4.0%} of raw   "
            f"database alone {alone_rate:>7,.0f}/s ({alone_rate / figures.raw_rate:.0%} of raw)   "
            f"({figures.notifications} notifications, {figures.fresh} fresh)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=5000)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument(
        "--postgres-url", default=os.environ.get("PORTAL_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, 30% duplicates")
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as directory:
            run(
                "sqlite",
                f"sqlite:///{Path(directory) / 'bench.db'}",
                f"sqlite:///{Path(directory) / 'replay.db'}",
                total=args.notifications,
                cases=args.cases,
            )
    if not args.skip_postgres:
        with (
            scratch_postgres(args.postgres_url, "bench") as url,
            scratch_postgres(args.postgres_url, "replay") as replay_url,
        ):
            run("postgresql", url, replay_url, total=args.notifications, cases=args.cases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
