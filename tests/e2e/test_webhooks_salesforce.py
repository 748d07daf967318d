"""Salesforce's webhooks through the app: acknowledged only once committed, refused clearly,
never with a side effect when the sender is not proven."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from adapters.memory import (
    FixedClock,
    InMemoryFileStore,
    InMemoryStorage,
    InMemoryUnitOfWork,
    SequentialIds,
)
from adapters.salesforce import (
    ACK,
    ChangeEventParser,
    OutboundMessageParser,
    SalesforceCaseSystem,
    SalesforceWiring,
)
from entrypoints.bootstrap import bootstrap
from entrypoints.web import create_app
from entrypoints.web.webhooks import (
    CHANGE_EVENT_SIGNATURE_HEADER,
    SALESFORCE_CHANGE_EVENTS_PATH,
    SALESFORCE_OUTBOUND_PATH,
)
from portal_core.cases.model import Case, CaseStatus
from portal_core.organisations.model import Organisation
from portal_core.signatures import sign
from tests.contract.salesforce.emulator import ORGANIZATION_ID
from tests.contract.salesforce.fixtures import (  # noqa: F401 (pytest fixtures)
    START,
    emulator,
    jwt_auth,
    key_pair,
    salesforce,
    sf_api,
    sf_clock,
    sf_http,
    sleeps,
)
from tests.contract.salesforce.messages import (
    change_event,
    events_body,
    notification,
    outbound_message,
)
from tests.e2e.conftest import TEST_HOST, settings_for

ACME = "001000000000ACMEAA"
XML = "text/xml; charset=utf-8"
OLD_SECRET = "relay-secret-before-rotation"
NEW_SECRET = "relay-secret-after-rotation"
CASE_ID = "500000000000001AAA"


class World:
    def __init__(self, storage: InMemoryStorage, clock: FixedClock, http: TestClient[Litestar]):
        self.storage = storage
        self.clock = clock
        self.http = http

    def soap(self, body: bytes, content_type: str = XML) -> Any:
        return self.http.post(
            SALESFORCE_OUTBOUND_PATH, content=body, headers={"Content-Type": content_type}
        )

    def events(self, body: bytes, signature: str | None) -> Any:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[CHANGE_EVENT_SIGNATURE_HEADER] = signature
        return self.http.post(SALESFORCE_CHANGE_EVENTS_PATH, content=body, headers=headers)

    def case(self, external_id: str = CASE_ID) -> Case | None:
        with self.storage.unit_of_work() as uow:
            return uow.cases.by_external_id(external_id)

    def nothing_stored(self) -> bool:
        state = self.storage.state
        return not state.cases and not state.processed_events and not state.outbox


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    case_system: SalesforceCaseSystem = request.getfixturevalue("salesforce")
    storage = InMemoryStorage()
    with storage.unit_of_work() as uow:
        uow.organisations.add(
            Organisation(id="acme", name="Acme", external_account_id=ACME, created_at=START)
        )
        uow.commit()
    settings = settings_for(
        tmp_path,
        salesforce_auth="client_credentials",
        salesforce_organization_id=ORGANIZATION_ID,
        salesforce_domain_url="https://acme.my.salesforce.com",
        salesforce_client_id="3MVG9portal.client.id",
        salesforce_client_secret="client-secret-for-tests",
        salesforce_event_secrets=f"{OLD_SECRET},{NEW_SECRET}",
    )
    clock = FixedClock(START)
    # The adapter on the Salesforce emulator, in place of the one the settings would dial.
    wiring = SalesforceWiring(
        case_system=case_system,
        outbound_messages=OutboundMessageParser(
            organization_id=ORGANIZATION_ID, codec=case_system.codec
        ),
        change_events=ChangeEventParser(codec=case_system.codec),
    )
    container = bootstrap(
        settings,
        clock=clock,
        ids=SequentialIds(),
        uow=storage.unit_of_work,
        files=InMemoryFileStore(clock),
        salesforce=wiring,
    )
    with TestClient(create_app(container), base_url=f"http://{TEST_HOST}") as http:
        yield World(storage, clock, http)


def record(**fields: Any) -> dict[str, Any]:
    base = {
        "Id": CASE_ID,
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


def test_an_outbound_message_is_acknowledged_only_with_its_change_already_stored(
    world: World,
) -> None:
    reply = world.soap(outbound_message([notification("04l000000000001AAA", record())]))

    assert (reply.status_code, reply.content) == (200, ACK)
    assert reply.headers["content-type"].startswith("text/xml")
    case = world.case()
    assert case is not None
    assert case.status is CaseStatus.IN_PROGRESS


def test_a_redelivered_outbound_message_is_acknowledged_without_a_second_effect(
    world: World,
) -> None:
    body = outbound_message([notification("04l000000000001AAA", record())])
    world.soap(body)
    outbox = dict(world.storage.state.outbox)
    history = list(world.storage.state.history)

    reply = world.soap(body)

    assert (reply.status_code, reply.content) == (200, ACK)
    assert world.storage.state.outbox == outbox
    assert world.storage.state.history == history


def test_a_message_whose_commit_fails_is_never_acknowledged(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_commit(self: InMemoryUnitOfWork) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(InMemoryUnitOfWork, "commit", failing_commit)

    reply = world.soap(outbound_message([notification("04l000000000001AAA", record())]))

    assert reply.status_code == 503
    assert b"soapenv:Server" in reply.content
    assert b"Ack" not in reply.content
    assert b"disk full" not in reply.content
    assert world.nothing_stored()


def test_a_full_message_of_100_notifications_fits_and_is_applied(world: World) -> None:
    notifications = [
        notification(
            f"04l{n:015d}",
            record(Id=f"500{n:015d}", CaseNumber=f"{n:08d}", Description="x" * 2000),
        )
        for n in range(100)
    ]

    reply = world.soap(outbound_message(notifications))

    assert (reply.status_code, reply.content) == (200, ACK)
    assert len(world.storage.state.cases) == 100


def test_a_body_larger_than_any_outbound_message_is_refused_unread(world: World) -> None:
    reply = world.soap(b"<" + b"x" * 4_000_001)
    assert reply.status_code == 413
    assert world.nothing_stored()


def test_a_foreign_organisation_gets_a_fault_and_no_side_effect(world: World) -> None:
    body = outbound_message(
        [notification("04l000000000001AAA", record())], organization_id="00D000000000666EAA"
    )

    reply = world.soap(body)

    assert reply.status_code == 403
    assert b"soapenv:Client" in reply.content
    assert b"Ack" not in reply.content
    assert world.nothing_stored()


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
    ],
    ids=["xml bomb", "external entity", "malformed"],
)
def test_hostile_or_broken_xml_gets_a_clear_client_fault_and_stores_nothing(
    world: World, body: bytes, reason: bytes
) -> None:
    reply = world.soap(body)

    assert reply.status_code == 400
    assert b"soapenv:Client" in reply.content
    assert reason in reply.content
    assert b"root:" not in reply.content
    assert world.nothing_stored()


def test_json_sent_to_the_outbound_message_route_is_refused(world: World) -> None:
    assert world.soap(b"{}", content_type="application/json").status_code == 415


def signed_event(
    at_offset: timedelta = timedelta(0), secret: str = NEW_SECRET
) -> tuple[bytes, str]:
    body = events_body(
        change_event(
            [CASE_ID],
            change_type="CREATE",
            commit_ms=int(START.timestamp() * 1000) + 60_000,
            fields={
                "CaseNumber": "00001001",
                "Subject": "Payroll question",
                "Status": "Working",
                "Priority": "High",
                "AccountId": ACME,
            },
        )
    )
    return body, sign(body, secret, START + at_offset)


def test_a_signed_change_event_is_applied_and_summarised(world: World) -> None:
    body, signature = signed_event()

    reply = world.events(body, signature)

    assert reply.status_code == 200
    assert reply.json()["imported"] == 1
    case = world.case()
    assert case is not None
    assert case.subject == "Payroll question"


def test_a_change_event_signed_with_the_old_secret_is_accepted_while_rotating(
    world: World,
) -> None:
    body, signature = signed_event(secret=OLD_SECRET)
    assert world.events(body, signature).status_code == 200


def test_a_repeated_change_event_changes_nothing_more(world: World) -> None:
    body, signature = signed_event()
    world.events(body, signature)
    outbox = dict(world.storage.state.outbox)

    reply = world.events(body, signature)

    assert reply.status_code == 200
    assert reply.json()["duplicates"] == 1
    assert world.storage.state.outbox == outbox


def tampered() -> tuple[bytes, str]:
    body, signature = signed_event()
    return body.replace(b"Payroll", b"Pavroll"), signature


def reserialised() -> tuple[bytes, str]:
    body, signature = signed_event()
    return json.dumps(json.loads(body), indent=1).encode(), signature


@pytest.mark.parametrize(
    "make",
    [
        lambda: (signed_event()[0], None),
        lambda: (signed_event()[0], "t=1,v1=00"),
        lambda: signed_event(secret="someone-elses-secret"),
        lambda: signed_event(at_offset=timedelta(seconds=-301)),
        lambda: signed_event(at_offset=timedelta(seconds=301)),
        tampered,
        reserialised,
    ],
    ids=["unsigned", "garbage", "wrong secret", "stale", "ahead", "tampered", "reserialised"],
)
def test_an_unproven_change_event_gets_401_and_stores_nothing(world: World, make: Any) -> None:
    body, signature = make()

    reply = world.events(body, signature)

    assert reply.status_code == 401
    assert world.nothing_stored()


def test_the_salesforce_routes_answer_404_when_salesforce_is_not_configured(
    tmp_path: Path,
) -> None:
    clock = FixedClock(START)
    container = bootstrap(
        settings_for(tmp_path),
        clock=clock,
        ids=SequentialIds(),
        uow=InMemoryStorage().unit_of_work,
        files=InMemoryFileStore(clock),
    )
    with TestClient(create_app(container), base_url=f"http://{TEST_HOST}") as http:
        body = outbound_message([notification("04l000000000001AAA", record())])
        outbound = http.post(SALESFORCE_OUTBOUND_PATH, content=body, headers={"Content-Type": XML})
        events = http.post(SALESFORCE_CHANGE_EVENTS_PATH, content=b"[]")
    assert (outbound.status_code, events.status_code) == (404, 404)
