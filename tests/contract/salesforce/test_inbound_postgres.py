"""Concurrent deliveries on PostgreSQL: the idempotency layer holds under real transactions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, make_url, text

from adapters.memory import FixedClock, SequentialIds
from adapters.salesforce import (
    ACK,
    CaseRecordCodec,
    OutboundMessageParser,
    SalesforceMapping,
    handle_outbound_message,
)
from adapters.sql import SqlStorage
from portal_core.cases.model import CaseStatus, CaseSynced
from portal_core.dispatch import EventDispatcher
from portal_core.organisations.model import Organisation
from portal_core.sync import SyncService
from tests.contract.salesforce.emulator import ORGANIZATION_ID
from tests.contract.salesforce.fixtures import START
from tests.contract.salesforce.messages import notification, outbound_message

ACME = "001000000000ACMEAA"
CASE = {
    "Id": "500000000000001AAA",
    "CaseNumber": "00001001",
    "Subject": "Payroll question",
    "Status": "Working",
    "Priority": "Medium",
    "AccountId": ACME,
}

pytestmark = pytest.mark.postgres


@pytest.fixture
def storage(postgres_url: str) -> Iterator[SqlStorage]:
    name = f"portal_sync_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    storage = SqlStorage.from_url(
        make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    )
    try:
        storage.upgrade()
        yield storage
    finally:
        storage.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_thousand_copies_from_eight_senders_have_exactly_one_effect(
    storage: SqlStorage,
) -> None:
    with storage.unit_of_work() as uow:
        uow.organisations.add(
            Organisation(id="acme", name="Acme", external_account_id=ACME, created_at=START)
        )
        uow.commit()
    sync = SyncService(
        uow=storage.unit_of_work,
        clock=FixedClock(START),
        ids=SequentialIds(uuid.uuid4().hex),
        dispatcher=EventDispatcher(),
    )
    parser = OutboundMessageParser(
        organization_id=ORGANIZATION_ID, codec=CaseRecordCodec(SalesforceMapping())
    )
    first = outbound_message(
        [
            notification(
                "04l000000000001AAA", {**CASE, "LastModifiedDate": "2026-05-20T10:00:00.000Z"}
            )
        ]
    )
    assert handle_outbound_message(first, "text/xml", parser=parser, sync=sync).status == 200
    with storage.unit_of_work() as uow:
        outbox_before = uow.outbox.pending_count()

    copy = outbound_message(
        [
            notification(
                "04l000000000002AAA",
                {**CASE, "Status": "Closed", "LastModifiedDate": "2026-05-20T11:00:00.000Z"},
            )
        ]
    )

    def send(_: int) -> tuple[int, bytes]:
        reply = handle_outbound_message(copy, "text/xml", parser=parser, sync=sync)
        return reply.status, reply.body

    with ThreadPoolExecutor(max_workers=8) as senders:
        replies = list(senders.map(send, range(1000)))
    assert set(replies) == {(200, ACK)}
    with storage.unit_of_work() as uow:
        case = uow.cases.by_external_id("500000000000001AAA")
        assert case is not None
        assert case.status is CaseStatus.CLOSED
        synced_to_closed = [
            e
            for e in uow.history.for_case(case.id)
            if isinstance(e, CaseSynced) and e.status is CaseStatus.CLOSED
        ]
        assert len(synced_to_closed) == 1
        assert uow.outbox.pending_count() == outbox_before + 1
