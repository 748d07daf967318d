"""Live updates through HTTP: `GET /live` on a real server, read as server-sent events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from adapters.live import ChannelsPublisher, backend_publishing, make_backend
from portal_core.billing.events import InvoiceIssued
from portal_core.cases.model import CaseLinked, CaseStatus, Visibility
from portal_core.cases.service import AddComment, ChangeStatus
from portal_core.notifications import case_update, invoice_update
from tests.e2e.live_support import EventStream, LiveFirm, served_firm


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveFirm]:
    with served_firm(tmp_path_factory.mktemp("live")) as served:
        yield served


@pytest.fixture
def streams(firm: LiveFirm) -> Iterator[dict[str, EventStream]]:
    opened: dict[str, EventStream] = {}
    yield opened
    for stream in opened.values():
        stream.close()


def open_stream(firm: LiveFirm, streams: dict[str, EventStream], name: str) -> EventStream:
    streams[name] = EventStream(firm, name)
    return streams[name]


def test_a_signed_out_visitor_gets_no_stream(firm: LiveFirm) -> None:
    response = httpx.get(f"{firm.url}/live", timeout=5)
    assert response.status_code == 401


def test_a_status_change_by_staff_reaches_the_clients_open_page_at_once(
    firm: LiveFirm, streams: dict[str, EventStream]
) -> None:
    alice = open_stream(firm, streams, "alice")
    assert alice.retry == "3000"
    assert alice.headers["content-type"].startswith("text/event-stream")
    assert "content-encoding" not in alice.headers  # compression would hold events back
    started = time.monotonic()
    firm.container.cases.change_status(
        firm.principal("sam"),
        ChangeStatus(case_id=firm.cases["acme"], status=CaseStatus.WAITING_ON_CLIENT),
    )
    event = alice.next_event()
    elapsed = time.monotonic() - started
    assert event.name == "case"
    assert event.data["case_id"] == firm.cases["acme"]
    assert event.data["status"] == "waiting_on_client"
    assert event.data["status_label"] == "Waiting on client"
    assert event.data["text"] == "Status changed to Waiting on client"
    assert elapsed < 1.0


def test_another_organisations_client_receives_nothing_of_it(
    firm: LiveFirm, streams: dict[str, EventStream]
) -> None:
    gina = open_stream(firm, streams, "gina")
    firm.container.cases.comment(
        firm.principal("sam"), AddComment(case_id=firm.cases["acme"], body="Acme's figures")
    )
    firm.container.cases.comment(
        firm.principal("sam"), AddComment(case_id=firm.cases["globex"], body="Globex's figures")
    )
    # Updates leave in commit order: had Acme's reached Gina, it would have come first.
    event = gina.next_event()
    assert event.data["case_id"] == firm.cases["globex"]
    assert event.data["text"] == "Reply: Globex's figures"


def test_a_client_never_receives_an_internal_note_while_staff_do(
    firm: LiveFirm, streams: dict[str, EventStream]
) -> None:
    victor = open_stream(firm, streams, "victor")
    sam = open_stream(firm, streams, "sam")
    case_id = firm.cases["acme"]
    firm.container.cases.comment(
        firm.principal("sam"),
        AddComment(case_id=case_id, body="Fee dispute pending", visibility=Visibility.INTERNAL),
    )
    firm.container.cases.comment(
        firm.principal("sam"), AddComment(case_id=case_id, body="We are on it.")
    )
    seen_by_victor = victor.next_event()
    assert seen_by_victor.data["text"] == "Reply: We are on it."
    assert "Fee dispute" not in str(seen_by_victor.data)
    note = sam.next_event()
    assert note.data["text"] == "Internal note: Fee dispute pending"
    assert sam.next_event().data["text"] == "Reply: We are on it."


def multi_process_backends(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "postgres":
        return {"live_backend": "postgres", "database_url": request.getfixturevalue("postgres_url")}
    return {"live_backend": "redis", "redis_url": request.getfixturevalue("redis_url")}


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def shared_backend(request: pytest.FixtureRequest) -> dict[str, str]:
    return multi_process_backends(request)


def test_a_change_committed_in_another_process_reaches_open_pages_through_the_shared_backend(
    tmp_path: Path, shared_backend: dict[str, str]
) -> None:
    with served_firm(tmp_path, **shared_backend) as firm:
        settings = firm.container.settings
        # The worker's process: its own publisher on its own connection to the backend.
        worker_publisher = ChannelsPublisher()
        backend = make_backend(
            settings.live_backend, redis_url=settings.redis_url, database_url=settings.database_url
        )
        alice = EventStream(firm, "alice")
        try:
            with backend_publishing(worker_publisher, backend):
                case = firm.container.cases.get_case(firm.principal("sam"), firm.cases["acme"]).case
                worker_publisher.publish(
                    case_update(
                        CaseLinked(
                            event_id="ev-linked",
                            occurred_at=case.updated_at,
                            organisation_id="acme",
                            actor_id="system:worker",
                            case_id=case.id,
                            external_id="500000000000001AAA",
                            external_number="00001042",
                        ),
                        case,
                    )
                )
                event = alice.next_event(timeout=10)
        finally:
            alice.close()
    assert event.data["text"] == "Case number 00001042 given"


def test_invoice_updates_reach_those_who_see_invoices_and_never_a_viewer(
    firm: LiveFirm, streams: dict[str, EventStream]
) -> None:
    victor = open_stream(firm, streams, "victor")
    alice = open_stream(firm, streams, "alice")
    issued = invoice_update(
        InvoiceIssued(
            event_id="ev-issued",
            occurred_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
            organisation_id="acme",
            actor_id="user-sam",
            invoice_id="inv-1",
            number="2026-0001",
            gross="540.00",
            currency="EUR",
            issue_date=date(2026, 3, 2),
            due_date=date(2026, 4, 1),
        )
    )
    assert issued is not None
    firm.container.publisher.publish(issued)
    firm.container.cases.comment(
        firm.principal("sam"), AddComment(case_id=firm.cases["acme"], body="Invoice attached.")
    )
    seen_by_alice = alice.next_event()
    assert (seen_by_alice.name, seen_by_alice.data["number"]) == ("invoice", "2026-0001")
    seen_by_victor = victor.next_event()
    assert seen_by_victor.name == "case"
    assert seen_by_victor.data["text"] == "Reply: Invoice attached."
