"""Prometheus metrics: guarded, by route template, with gauges read from the storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from attrs import evolve
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.memory import InMemoryIdentityProvider, InMemoryStorage
from entrypoints.web import create_app
from portal_core.cases.model import CaseStatus, CaseStatusChanged, CaseSynced, Priority
from portal_core.organisations.model import Role, User
from portal_core.ports import OutboxMessage
from tests.e2e.conftest import TEST_HOST, container_on_fakes, settings_for

TOKEN = "scrape-token-0123456789abcdef"


def samples(text: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


def staff_and_admin(storage: InMemoryStorage) -> tuple[User, User]:
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    staff, admin = (
        User(
            id=f"u-{role.value}",
            email=f"{role.value}@firm.example",
            name=role.value,
            organisation_id=None,
            roles=frozenset({role}),
            created_at=now,
        )
        for role in (Role.STAFF, Role.ADMIN)
    )
    with storage.unit_of_work() as uow:
        uow.users.add(staff)
        uow.users.add(admin)
        uow.commit()
    return staff, admin


def test_metrics_need_the_scrape_token_or_an_admin(tmp_path: Path) -> None:
    storage = InMemoryStorage()
    staff, admin = staff_and_admin(storage)
    identity = InMemoryIdentityProvider()
    container = evolve(
        container_on_fakes(settings_for(tmp_path, metrics_token=TOKEN), uow=storage.unit_of_work),
        token_verifier=identity,
    )
    with TestClient(create_app(container), base_url=f"http://{TEST_HOST}") as client:
        anonymous = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        as_staff = client.get(
            "/metrics", headers={"Authorization": f"Bearer {identity.issue_token(staff)}"}
        )
        as_admin = client.get(
            "/metrics", headers={"Authorization": f"Bearer {identity.issue_token(admin)}"}
        )
        scraper = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert (anonymous.status_code, wrong.status_code, as_staff.status_code) == (401, 401, 403)
    assert as_admin.status_code == scraper.status_code == 200
    assert scraper.headers["content-type"].startswith("text/plain")


def test_requests_are_counted_by_route_template_and_the_outbox_depth_is_read_at_scrape(
    tmp_path: Path,
) -> None:
    storage = InMemoryStorage()
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with storage.unit_of_work() as uow:
        for n in range(3):
            uow.outbox.add(
                OutboxMessage(id=f"m{n}", event=_an_event(n, now), created_at=now, available_at=now)
            )
        uow.commit()
    container = container_on_fakes(
        settings_for(tmp_path, metrics_token=TOKEN), uow=storage.unit_of_work
    )
    with TestClient(create_app(container), base_url=f"http://{TEST_HOST}") as client:
        before = samples(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
        client.get("/healthz")
        client.get("/readyz")
        container.dispatcher.dispatch([_synced_from_salesforce(now)])
        after = samples(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)

    health = "portal_requests_total{app_name=portal,method=GET,path=/healthz,status_code=200}"
    assert after[health] == before.get(health, 0) + 1
    assert after["portal_outbox_pending{}"] == 3
    lag = "portal_inbound_event_lag_seconds_count{source=salesforce}"
    assert after[lag] == before.get(lag, 0) + 1
    assert after["portal_inbound_event_lag_seconds_bucket{le=0.05,source=salesforce}"] >= 1
    assert not any("/no/such" in name for name in after)


def _an_event(n: int, at: datetime) -> CaseStatusChanged:
    return CaseStatusChanged(
        event_id=f"evt-{n}",
        occurred_at=at,
        organisation_id="org-1",
        actor_id="s-1",
        case_id="c-1",
        old_status=CaseStatus.NEW,
        new_status=CaseStatus.IN_PROGRESS,
    )


def _synced_from_salesforce(changed_at: datetime) -> CaseSynced:
    return CaseSynced(
        event_id="evt-synced",
        occurred_at=changed_at + timedelta(milliseconds=40),
        organisation_id="org-1",
        actor_id="system:salesforce",
        case_id="c-1",
        old_status=CaseStatus.NEW,
        status=CaseStatus.IN_PROGRESS,
        subject="s",
        description="d",
        priority=Priority.NORMAL,
        external_number="00001001",
        external_modified_at=changed_at,
    )
