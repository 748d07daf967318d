"""A small firm with two client organisations, for the API tests: everything each resource
needs (cases, files, time, issued invoices with their PDFs, a credit note, contacts), built
through the services, and a client that calls the API as any of its people."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from attrs import define, evolve
from litestar import Litestar
from litestar.testing import TestClient

from adapters.memory import InMemoryFileStore, InMemoryIdentityProvider
from entrypoints.bootstrap import Container
from entrypoints.web import create_app
from portal_core.billing.contract import Grouping, HourlyTerms, TaxRule
from portal_core.billing.credit_notes import CreditLine
from portal_core.billing.money import Money
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.service import IssueCreditNote, LogTime, SetContract
from portal_core.cases.files import incoming_key
from portal_core.cases.service import SubmitCase, UploadedFile
from portal_core.cases.uploads import ConfirmUpload, RequestUpload
from portal_core.organisations.model import Organisation, Principal, Role, User
from portal_core.ports import CaseQuery, UnitOfWorkFactory
from tests.e2e.conftest import TEST_HOST, container_on_fakes, settings_for

API = "/api/v1"
PDF_BYTES = b"%PDF-1.7\n" + b"engagement letter " * 200
DECEMBER = BillingPeriod(2025, 12)


@define
class Tenant:
    """One client organisation's ids, as the API tests substitute them into paths."""

    organisation_id: str
    client_admin: User
    billing_contact: User
    case_id: str = ""
    attachment_id: str = ""
    invoice_id: str = ""
    credit_note_id: str = ""
    entry_id: str = ""
    upload_id: str = ""


@define
class World:
    container: Container
    files: InMemoryFileStore
    identity: InMemoryIdentityProvider
    staff: User
    admin: User
    acme: Tenant
    globex: Tenant
    app: Litestar

    def bearer(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.identity.issue_token(user)}"}

    def client(self) -> TestClient[Litestar]:
        return TestClient(self.app, base_url=f"http://{TEST_HOST}")


def user(user_id: str, organisation_id: str | None, *roles: Role, created: Any) -> User:
    return User(
        id=user_id,
        email=f"{user_id}@{organisation_id or 'firm'}.example",
        name=user_id.title(),
        organisation_id=organisation_id,
        roles=frozenset(roles),
        created_at=created,
    )


def build_world(tmp_path: Path, *, uow: UnitOfWorkFactory | None = None, **settings: str) -> World:
    container = container_on_fakes(settings_for(tmp_path, **settings), uow=uow)
    files = container.files
    assert isinstance(files, InMemoryFileStore)
    identity = InMemoryIdentityProvider()
    container = evolve(container, token_verifier=identity)
    now = container.clock.now()
    staff = user("sam", None, Role.STAFF, created=now)
    admin = user("ada", None, Role.ADMIN, created=now)
    tenants = {
        name: Tenant(
            organisation_id=name,
            client_admin=user(f"{name}-admin", name, Role.CLIENT_ADMIN, created=now),
            billing_contact=user(f"{name}-billing", name, Role.BILLING_CONTACT, created=now),
        )
        for name in ("acme", "globex")
    }
    with container.uow() as work:
        work.users.add(staff)
        work.users.add(admin)
        for tenant in tenants.values():
            work.organisations.add(
                Organisation(
                    id=tenant.organisation_id, name=tenant.organisation_id.title(), created_at=now
                )
            )
            work.users.add(tenant.client_admin)
            work.users.add(tenant.billing_contact)
        work.commit()
    for tenant in tenants.values():
        _furnish(container, files, tenant, staff=staff.as_principal(), admin=admin.as_principal())
    return World(
        container=container,
        files=files,
        identity=identity,
        staff=staff,
        admin=admin,
        acme=tenants["acme"],
        globex=tenants["globex"],
        app=create_app(container),
    )


def _furnish(
    container: Container,
    files: InMemoryFileStore,
    tenant: Tenant,
    *,
    staff: Principal,
    admin: Principal,
) -> None:
    """A case with a file, time billed on an issued invoice with its PDF, a credit note,
    unbilled time, and an upload waiting to be confirmed."""
    client = tenant.client_admin.as_principal()
    organisation_id = tenant.organisation_id
    container.billing.set_contract(
        admin,
        SetContract(
            organisation_id=organisation_id,
            terms=HourlyTerms(),
            currency="EUR",
            rates={"Senior": Decimal("180.00")},
            tax=TaxRule(rate_percent=Decimal(20)),
            grouping=Grouping.MONTHLY,
        ),
    )
    grant_id = _uploaded(container, files, client, "letter.pdf")
    confirmed = container.uploads.confirm_upload(
        client, ConfirmUpload(upload_id=grant_id, display_name="letter.pdf")
    )
    case = container.cases.submit(
        client,
        SubmitCase(
            subject=f"Annual accounts of {organisation_id}",
            description="Please prepare them.",
            files=(UploadedFile(storage_key=confirmed.storage_key, display_name="letter.pdf"),),
        ),
    )
    tenant.case_id = case.id
    tenant.attachment_id = container.cases.get_case(client, case.id).attachments[0].id
    container.billing.log_time(
        staff,
        LogTime(
            case_id=case.id,
            role="Senior",
            work_date=date(2025, 12, 10),
            minutes=150,
            description="Review",
        ),
    )
    draft = container.billing.run_month(staff, organisation_id, DECEMBER)
    assert draft is not None
    issued = container.billing.issue(staff, draft.id)
    container.invoice_pdfs.render_and_store(staff, issued.id)
    tenant.invoice_id = issued.id
    note = container.billing.issue_credit_note(
        staff,
        IssueCreditNote(
            invoice_id=issued.id,
            reason="Goodwill",
            lines=(CreditLine(line_number=1, amount=Money("10.00", "EUR")),),
        ),
    )
    tenant.credit_note_id = note.id
    entry = container.billing.log_time(
        staff,
        LogTime(
            case_id=case.id,
            role="Senior",
            work_date=date(2026, 1, 2),
            minutes=30,
            description="Call",
        ),
    )
    tenant.entry_id = entry.id
    tenant.upload_id = _uploaded(container, files, client, "later.pdf")


def _uploaded(container: Container, files: InMemoryFileStore, client: Principal, name: str) -> str:
    """An upload ticket used the way a browser would: the file is in the store, unconfirmed."""
    grant = container.uploads.request_upload(
        client, RequestUpload(display_name=name, content_type="application/pdf")
    )
    assert client.organisation_id is not None
    files.put(incoming_key(client.organisation_id, grant.upload_id), PDF_BYTES, "application/pdf")
    return grant.upload_id


def organisation_rows(container: Container, organisation_id: str) -> Mapping[str, object]:
    """Everything stored about one organisation, to compare before and after."""
    with container.uow() as work:
        cases = work.cases.search(CaseQuery(page_size=100), scope=organisation_id)
        return {
            "organisation": work.organisations.get(organisation_id),
            "users": tuple(work.users.for_organisation(organisation_id)),
            "cases": cases.items,
            "history": tuple(e for c in cases.items for e in work.history.for_case(c.id)),
            "attachments": tuple(a for c in cases.items for a in work.attachments.for_case(c.id)),
            "invoices": tuple(
                work.invoices.list(organisation_id=organisation_id, include_drafts=True)
            ),
            "credit_notes": tuple(work.credit_notes.list(organisation_id=organisation_id)),
            "time": tuple(e for c in cases.items for e in work.time_entries.for_case(c.id)),
        }


def problem(response: Any) -> dict[str, Any]:
    """The response's problem details, checked for the shape every error shares."""
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == response.status_code
    assert "Traceback" not in response.text
    return body
