"""Outbound messages and change events from Salesforce: acknowledged only after commit,
refused clearly when bad, never half-written."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from attrs import frozen

from adapters.memory import FixedClock, InMemoryStorage, SequentialIds
from adapters.salesforce import (
    ACK,
    ChangeEventParser,
    InboundReply,
    OutboundMessageParser,
    SalesforceCaseSystem,
    handle_change_event,
    handle_outbound_message,
)
from portal_core.cases.model import Case, CaseStatus, Priority
from portal_core.dispatch import EventDispatcher
from portal_core.organisations.model import Organisation
from portal_core.sync import SyncService
from tests.contract.salesforce.emulator import (
    INTEGRATION_USER_ID,
    ORGANIZATION_ID,
    SalesforceEmulator,
)
from tests.contract.salesforce.fixtures import START
from tests.contract.salesforce.messages import (
    change_event,
    events_body,
    notification,
    outbound_message,
)

ACME = "001000000000ACMEAA"
XML = "text/xml; charset=utf-8"
JSON = "application/json"


@frozen
class Receiver:
    storage: InMemoryStorage
    sync: SyncService
    outbound: OutboundMessageParser
    events: ChangeEventParser
    salesforce: SalesforceCaseSystem

    def soap(self, body: bytes, content_type: str = XML) -> InboundReply:
        return handle_outbound_message(
            body, content_type, parser=self.outbound, sync=self.sync, case_system=self.salesforce
        )

    def cdc(self, body: bytes) -> InboundReply:
        return handle_change_event(
            body, JSON, parser=self.events, sync=self.sync, case_system=self.salesforce
        )

    def case(self, external_id: str) -> Case | None:
        with self.storage.unit_of_work() as uow:
            return uow.cases.by_external_id(external_id)


@pytest.fixture
def receiver(salesforce: SalesforceCaseSystem) -> Receiver:
    storage = InMemoryStorage()
    with storage.unit_of_work() as uow:
        uow.organisations.add(
            Organisation(id="acme", name="Acme", external_account_id=ACME, created_at=START)
        )
        uow.commit()
    sync = SyncService(
        uow=storage.unit_of_work,
        clock=FixedClock(START),
        ids=SequentialIds(),
        dispatcher=EventDispatcher(),
    )
    return Receiver(
        storage,
        sync,
        OutboundMessageParser(organization_id=ORGANIZATION_ID, codec=salesforce.codec),
        ChangeEventParser(codec=salesforce.codec),
        salesforce,
    )


def record(**fields: Any) -> dict[str, Any]:
    base = {
        "Id": "500000000000001AAA",
        "CaseNumber": "00001001",
        "Subject": "Payroll question",
        "Description": "New hire",
        "Status": "Working",
        "Priority": "High",
        "AccountId": ACME,
        "LastModifiedDate": "2026-05-20T20:49:32.000+0000",
        "LastModifiedById": "005000000000STAFFA",
    }
    return {**base, **fields}


def nothing_stored(receiver: Receiver) -> bool:
    state = receiver.storage.state
    return not state.cases and not state.processed_events and not state.outbox


def test_an_outbound_message_is_applied_and_acknowledged_with_the_exact_ack(
    receiver: Receiver,
) -> None:
    reply = receiver.soap(outbound_message([notification("04l000000000001AAA", record())]))
    assert (reply.status, reply.body) == (200, ACK)
    assert b"<Ack>true</Ack>" in reply.body
    case = receiver.case("500000000000001AAA")
    assert case is not None
    assert (case.status, case.priority, case.number) == (
        CaseStatus.IN_PROGRESS,
        Priority.HIGH,
        "00001001",
    )


def test_a_message_of_100_notifications_is_applied_in_one_go(receiver: Receiver) -> None:
    notifications = [
        notification(f"04l{n:015d}", record(Id=f"500{n:015d}", CaseNumber=f"{n:08d}"))
        for n in range(100)
    ]
    reply = receiver.soap(outbound_message(notifications))
    assert reply.status == 200
    assert len(receiver.storage.state.cases) == 100


def test_more_than_100_notifications_is_not_an_outbound_message(receiver: Receiver) -> None:
    notifications = [notification(f"04l{n:015d}", record(Id=f"500{n:015d}")) for n in range(101)]
    reply = receiver.soap(outbound_message(notifications))
    assert reply.status == 400
    assert nothing_stored(receiver)


def test_a_redelivered_message_is_acknowledged_without_a_second_effect(
    receiver: Receiver,
) -> None:
    body = outbound_message([notification("04l000000000001AAA", record())])
    receiver.soap(body)
    outbox = dict(receiver.storage.state.outbox)
    reply = receiver.soap(body)
    assert (reply.status, reply.body) == (200, ACK)
    assert receiver.storage.state.outbox == outbox


def test_a_foreign_organisation_has_no_side_effect(receiver: Receiver) -> None:
    body = outbound_message(
        [notification("04l000000000001AAA", record())], organization_id="00D000000000666EAA"
    )
    reply = receiver.soap(body)
    assert reply.status == 403
    assert b"Fault" in reply.body
    assert b"Ack" not in reply.body
    assert nothing_stored(receiver)


XML_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol3;
</soapenv:Body></soapenv:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&xxe;
</soapenv:Body></soapenv:Envelope>"""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (XML_BOMB, b"DOCTYPE"),
        (EXTERNAL_ENTITY, b"DOCTYPE"),
        (b"<soapenv:Envelope", b"not well-formed"),
        (b"<Envelope/>", b"not a SOAP"),
        (
            outbound_message([notification("04l000000000001AAA", record(), sobject="Account")]),
            b"only Case records",
        ),
        (
            outbound_message(
                [
                    notification(
                        "04l000000000001AAA",
                        {k: v for k, v in record().items() if k != "LastModifiedDate"},
                    )
                ]
            ),
            b"lacks LastModifiedDate",
        ),
        (
            outbound_message([notification("04l000000000001AAA", record(Status="Banana"))]),
            b"Banana",
        ),
        (
            outbound_message(
                [notification("04l000000000001AAA", record(LastModifiedDate="yesterday"))]
            ),
            b"yesterday",
        ),
    ],
)
def test_bad_input_gets_a_clear_fault_a_log_line_and_stores_nothing(
    receiver: Receiver, body: bytes, reason: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        reply = receiver.soap(body)
    assert reply.status == 400
    assert b"soapenv:Client" in reply.body
    assert reason in reply.body
    assert "outbound message refused (400)" in caplog.text
    assert nothing_stored(receiver)


def test_a_wrong_content_type_is_refused(receiver: Receiver) -> None:
    reply = receiver.soap(b"{}", content_type="application/json")
    assert reply.status == 415


def test_a_case_of_an_unknown_account_is_refused_whole_for_salesforce_to_retry(
    receiver: Receiver,
) -> None:
    body = outbound_message(
        [
            notification("04l000000000001AAA", record()),
            notification(
                "04l000000000002AAA",
                record(Id="500000000000002AAA", AccountId="001000000000NOPEAA"),
            ),
        ]
    )
    reply = receiver.soap(body)
    assert reply.status == 409
    assert b"soapenv:Server" in reply.body
    assert b"001000000000NOPEAA" in reply.body
    assert nothing_stored(receiver)


def test_a_failure_at_commit_is_never_acknowledged(receiver: Receiver) -> None:
    class BrokenCommit(InMemoryStorage):
        def unit_of_work(self, *, read_only: bool = False):  # type: ignore[no-untyped-def]
            uow = super().unit_of_work(read_only=read_only)

            def fail() -> None:
                raise OSError("disk full")

            uow.commit = fail  # type: ignore[method-assign]
            return uow

    broken = BrokenCommit()
    broken.state = receiver.storage.state
    sync = SyncService(
        uow=broken.unit_of_work,
        clock=FixedClock(START),
        ids=SequentialIds(),
        dispatcher=EventDispatcher(),
    )
    reply = handle_outbound_message(
        outbound_message([notification("04l000000000001AAA", record())]),
        XML,
        parser=receiver.outbound,
        sync=sync,
    )
    assert reply.status == 503
    assert b"Ack" not in reply.body
    assert b"disk full" not in reply.body


def test_an_older_message_never_overwrites_a_newer_one(receiver: Receiver) -> None:
    newer = record(Status="Closed", LastModifiedDate="2026-05-20T21:00:00.000+0000")
    older = record(Status="Working", LastModifiedDate="2026-05-20T20:00:00.000+0000")
    receiver.soap(outbound_message([notification("04l000000000002AAA", newer)]))
    assert (
        receiver.soap(outbound_message([notification("04l000000000001AAA", older)])).status == 200
    )
    case = receiver.case("500000000000001AAA")
    assert case is not None
    assert case.status is CaseStatus.CLOSED


def test_a_message_missing_fields_for_a_new_case_is_completed_from_the_rest_api(
    receiver: Receiver, emulator: SalesforceEmulator
) -> None:
    created = emulator.staff_create(Subject="From Salesforce", AccountId=ACME, Status="Working")
    partial = {
        "Id": created["Id"],
        "Status": "Working",
        "LastModifiedDate": created["LastModifiedDate"],
    }
    reply = receiver.soap(outbound_message([notification("04l000000000001AAA", partial)]))
    assert reply.status == 200
    case = receiver.case(created["Id"])
    assert case is not None
    assert (case.subject, case.number) == ("From Salesforce", created["CaseNumber"])


def test_the_portals_own_change_is_recognised_as_its_echo(receiver: Receiver) -> None:
    receiver.soap(outbound_message([notification("04l000000000001AAA", record())]))
    echo = record(
        Status="New",
        LastModifiedDate="2026-05-20T21:00:00.000+0000",
        LastModifiedById=INTEGRATION_USER_ID,
    )
    history = len(receiver.storage.state.history)
    assert receiver.soap(outbound_message([notification("04l000000000002AAA", echo)])).status == 200
    case = receiver.case("500000000000001AAA")
    assert case is not None
    assert case.status is CaseStatus.IN_PROGRESS
    assert len(receiver.storage.state.history) == history


# --- change events ------------------------------------------------------------------------------


def test_a_change_event_applies_only_the_changed_fields(receiver: Receiver) -> None:
    receiver.soap(outbound_message([notification("04l000000000001AAA", record())]))
    event = change_event(
        ["500000000000001AAA"], commit_ms=1_779_400_000_000, fields={"Status": "Resolved"}
    )
    reply = receiver.cdc(events_body(event))
    assert reply.status == 200
    case = receiver.case("500000000000001AAA")
    assert case is not None
    assert (case.status, case.subject) == (CaseStatus.RESOLVED, "Payroll question")
    assert receiver.cdc(events_body(event)).body.startswith(b'{"applied": 0')


def test_a_change_event_for_several_records_changes_each(receiver: Receiver) -> None:
    for n in (1, 2):
        receiver.soap(
            outbound_message(
                [notification(f"04l00000000000{n}AAA", record(Id=f"50000000000000{n}AAA"))]
            )
        )
    event = change_event(
        ["500000000000001AAA", "500000000000002AAA"],
        commit_ms=1_779_400_000_000,
        fields={"Priority": "Low"},
    )
    assert receiver.cdc(events_body(event)).status == 200
    for n in (1, 2):
        case = receiver.case(f"50000000000000{n}AAA")
        assert case is not None
        assert case.priority is Priority.LOW


def test_a_gap_event_re_reads_the_record(receiver: Receiver, emulator: SalesforceEmulator) -> None:
    created = emulator.staff_create(Subject="Gap case", AccountId=ACME, Status="Closed")
    event = change_event([created["Id"]], change_type="GAP_OVERFLOW", commit_ms=1_779_400_000_000)
    assert receiver.cdc(events_body(event)).status == 200
    case = receiver.case(created["Id"])
    assert case is not None
    assert (case.subject, case.status) == ("Gap case", CaseStatus.CLOSED)


def test_a_change_event_from_the_portals_own_client_never_moves_the_status(
    receiver: Receiver, salesforce: SalesforceCaseSystem
) -> None:
    receiver.soap(outbound_message([notification("04l000000000001AAA", record())]))
    mapping_client = "PortalApp"
    parser = ChangeEventParser(
        codec=type(salesforce.codec)(type(salesforce.mapping)(integration_client_id=mapping_client))
    )
    event = change_event(
        ["500000000000001AAA"],
        commit_ms=1_779_400_000_000,
        fields={"Status": "New"},
        client=mapping_client,
    )
    reply = handle_change_event(
        events_body(event), JSON, parser=parser, sync=receiver.sync, case_system=salesforce
    )
    assert reply.status == 200
    case = receiver.case("500000000000001AAA")
    assert case is not None
    assert case.status is CaseStatus.IN_PROGRESS


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"payload": {}}',
        events_body(change_event(["001000000000ACMEAA"], commit_ms=1, entity="Account")),
        events_body(change_event(["500000000000001AAA"], commit_ms=1, change_type="MERGE")),
        events_body(change_event([], commit_ms=1)),
    ],
)
def test_bad_change_events_are_refused_with_nothing_stored(receiver: Receiver, body: bytes) -> None:
    reply = receiver.cdc(body)
    assert reply.status == 400
    assert b'"error"' in reply.body
    assert nothing_stored(receiver)


def test_a_value_the_portal_refuses_is_a_client_fault_not_a_retry_loop(receiver: Receiver) -> None:
    reply = receiver.soap(
        outbound_message([notification("04l000000000001AAA", record(Subject="x" * 300))])
    )
    assert reply.status == 400
    assert b"255" in reply.body
    assert nothing_stored(receiver)
