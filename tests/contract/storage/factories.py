"""Domain objects for the storage contract tests, valid unless a test says otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attrs import evolve

from portal_core.audit import AuditRecord
from portal_core.cases.model import Attachment, Case, CaseSubmitted, Priority
from portal_core.organisations.model import Organisation, Role, User

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def organisation(organisation_id: str = "org-1", **changes: object) -> Organisation:
    made = Organisation(id=organisation_id, name=f"Client {organisation_id}", created_at=T0)
    return evolve(made, **changes)


def client_user(user_id: str, organisation_id: str = "org-1", **changes: object) -> User:
    made = User(
        id=user_id,
        email=f"{user_id}@client.example",
        name=f"Contact {user_id}",
        organisation_id=organisation_id,
        roles=frozenset({Role.CLIENT_ADMIN}),
        created_at=T0,
    )
    return evolve(made, **changes)


def staff_user(user_id: str, **changes: object) -> User:
    made = User(
        id=user_id,
        email=f"{user_id}@firm.example",
        name=f"Staff {user_id}",
        organisation_id=None,
        roles=frozenset({Role.STAFF}),
        created_at=T0,
    )
    return evolve(made, **changes)


def submitted_case(
    case_id: str,
    organisation_id: str = "org-1",
    *,
    minute: int = 0,
    subject: str | None = None,
    priority: Priority = Priority.NORMAL,
) -> tuple[Case, CaseSubmitted]:
    return Case.submit(
        case_id=case_id,
        organisation_id=organisation_id,
        reference=f"REF-{case_id}",
        subject=subject or f"Question {case_id}",
        description="Please help.",
        priority=priority,
        submitted_by="user-1",
        event_id=f"evt-{case_id}",
        at=at(minute),
    )


def case(case_id: str, organisation_id: str = "org-1", **kwargs: object) -> Case:
    return submitted_case(case_id, organisation_id, **kwargs)[0]  # type: ignore[arg-type]


def attachment(attachment_id: str, case_id: str, *, minute: int = 0) -> Attachment:
    return Attachment(
        id=attachment_id,
        case_id=case_id,
        organisation_id="org-1",
        display_name=f"{attachment_id}.pdf",
        size=1024,
        content_type="application/pdf",
        checksum="ab" * 32,
        storage_key=f"org/org-1/upload/{attachment_id}",
        uploaded_by="user-1",
        uploaded_at=at(minute),
    )


def audit_record(record_id: str, *, minute: int = 0) -> AuditRecord:
    return AuditRecord(
        id=record_id,
        at=at(minute),
        actor_id="user-1",
        organisation_id="org-1",
        action="case.submitted",
        subject_type="case",
        subject_id="case-1",
        details={"reference": "REF-1", "note": "Grüße, naïve café"},
    )
