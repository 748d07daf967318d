"""The case aggregate: a client's request, its status machine, and the events that build it.

A case is immutable; every command returns the new case together with the event that explains
the change, so that replaying a case's history always rebuilds the same case.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from attrs import evolve, frozen

from portal_core.errors import InvalidInput, InvalidTransition
from portal_core.events import DomainEvent

MAX_SUBJECT_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 32_000
MAX_COMMENT_LENGTH = 32_000
DEFAULT_REOPEN_WINDOW = timedelta(days=14)


class CaseStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CLIENT = "waiting_on_client"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self not in (CaseStatus.RESOLVED, CaseStatus.CLOSED)


OPEN_STATUSES = frozenset(s for s in CaseStatus if s.is_open)


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    """Seen by the client and by staff."""
    INTERNAL = "internal"
    """A staff note: never shown to a client, never sent to one."""


# The status machine. Staff may make any of these moves; clients only those in CLIENT_MOVES.
ALLOWED_MOVES: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset(
        {
            CaseStatus.IN_PROGRESS,
            CaseStatus.WAITING_ON_CLIENT,
            CaseStatus.RESOLVED,
            CaseStatus.CLOSED,
        }
    ),
    CaseStatus.IN_PROGRESS: frozenset(
        {CaseStatus.WAITING_ON_CLIENT, CaseStatus.RESOLVED, CaseStatus.CLOSED}
    ),
    CaseStatus.WAITING_ON_CLIENT: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED}
    ),
    CaseStatus.RESOLVED: frozenset({CaseStatus.CLOSED, CaseStatus.IN_PROGRESS}),
    # A closed case is final for clients; staff may reopen it (a correction, a missed detail).
    CaseStatus.CLOSED: frozenset({CaseStatus.IN_PROGRESS}),
}

# Clients may accept a resolution (close it), reopen it within the reopen window, or withdraw
# a request that nobody has started on.
CLIENT_MOVES: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset({CaseStatus.CLOSED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.CLOSED, CaseStatus.IN_PROGRESS}),
}


def check_move(
    case: Case,
    to: CaseStatus,
    *,
    by_staff: bool,
    at: datetime,
    reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
) -> None:
    """Raise InvalidTransition unless `case` may move to `to` by this kind of actor at `at`."""
    if to == case.status:
        raise InvalidTransition(f"Case {case.reference} is already {to.value}.")
    if to not in ALLOWED_MOVES[case.status]:
        raise InvalidTransition(
            f"Case {case.reference} cannot go from {case.status.value} to {to.value}."
        )
    if by_staff:
        return
    if to not in CLIENT_MOVES.get(case.status, frozenset()):
        raise InvalidTransition(
            f"Only the firm can move case {case.reference} from {case.status.value} to {to.value}."
        )
    reopening = case.status is CaseStatus.RESOLVED and to is CaseStatus.IN_PROGRESS
    if reopening and case.resolved_at is not None and at - case.resolved_at > reopen_window:
        days = reopen_window.days
        raise InvalidTransition(
            f"Case {case.reference} was resolved more than {days} days ago; "
            "please submit a new request instead."
        )


@frozen(kw_only=True)
class CaseSubmitted(DomainEvent):
    kind = "case.submitted"

    case_id: str
    reference: str
    subject: str
    description: str
    priority: Priority
    submitted_by: str


@frozen(kw_only=True)
class CaseStatusChanged(DomainEvent):
    kind = "case.status_changed"

    case_id: str
    old_status: CaseStatus
    new_status: CaseStatus


@frozen(kw_only=True)
class CaseAssigned(DomainEvent):
    kind = "case.assigned"

    case_id: str
    assignee_id: str | None


@frozen(kw_only=True)
class CaseDetailsChanged(DomainEvent):
    kind = "case.details_changed"

    case_id: str
    subject: str
    description: str
    priority: Priority


@frozen(kw_only=True)
class CommentAdded(DomainEvent):
    kind = "case.comment_added"

    case_id: str
    comment_id: str
    visibility: Visibility
    body: str


@frozen(kw_only=True)
class AttachmentAdded(DomainEvent):
    kind = "case.attachment_added"

    case_id: str
    attachment_id: str
    display_name: str
    size: int
    content_type: str


@frozen(kw_only=True)
class CaseLinked(DomainEvent):
    """The case system of record (e.g. Salesforce) accepted the case and gave it its number."""

    kind = "case.linked"

    case_id: str
    external_id: str
    external_number: str


@frozen(kw_only=True)
class CaseSynced(DomainEvent):
    """The case system of record (Salesforce) holds newer values; the portal takes them as they are.

    The system of record is not bound by the portal's status machine (staff may move a case
    there however their process says), so these values are applied without `check_move`.
    """

    kind = "case.synced"

    case_id: str
    old_status: CaseStatus
    status: CaseStatus
    subject: str
    description: str
    priority: Priority
    external_number: str
    external_modified_at: datetime


CaseEvent = (
    CaseSubmitted
    | CaseStatusChanged
    | CaseAssigned
    | CaseDetailsChanged
    | CommentAdded
    | AttachmentAdded
    | CaseLinked
    | CaseSynced
)


def _clean_subject(subject: str) -> str:
    cleaned = " ".join(subject.split())
    if not cleaned:
        raise InvalidInput("A request needs a subject.")
    if len(cleaned) > MAX_SUBJECT_LENGTH:
        raise InvalidInput(f"The subject is longer than {MAX_SUBJECT_LENGTH} characters.")
    return cleaned


def _clean_description(description: str) -> str:
    cleaned = description.strip()
    if len(cleaned) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(f"The description is longer than {MAX_DESCRIPTION_LENGTH} characters.")
    return cleaned


@frozen(kw_only=True)
class Case:
    id: str
    organisation_id: str
    reference: str
    """The portal's own number, given the moment the case is submitted."""
    subject: str
    description: str
    priority: Priority
    status: CaseStatus
    submitted_by: str
    assignee_id: str | None = None
    external_id: str | None = None
    """The case system's id (the Salesforce Case Id) once it has accepted the case."""
    external_number: str | None = None
    """The case system's own number (Salesforce CaseNumber)."""
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    external_modified_at: datetime | None = None
    """The case system's last-modified time of the values applied here; older never overwrite."""
    version: int = 1
    """Bumped by every change; a write with a stale version is refused."""

    @property
    def number(self) -> str:
        """The number shown to people: the case system's when it has one, else the portal's."""
        return self.external_number or self.reference

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @classmethod
    def submit(
        cls,
        *,
        case_id: str,
        organisation_id: str,
        reference: str,
        subject: str,
        description: str,
        priority: Priority,
        submitted_by: str,
        event_id: str,
        at: datetime,
    ) -> tuple[Case, CaseSubmitted]:
        event = CaseSubmitted(
            event_id=event_id,
            occurred_at=at,
            organisation_id=organisation_id,
            actor_id=submitted_by,
            case_id=case_id,
            reference=reference,
            subject=_clean_subject(subject),
            description=_clean_description(description),
            priority=priority,
            submitted_by=submitted_by,
        )
        return cls.from_history([event]), event

    @classmethod
    def from_history(cls, events: Iterable[CaseEvent]) -> Case:
        """Rebuild a case from its events, oldest first. The first must be CaseSubmitted."""
        iterator = iter(events)
        first = next(iterator, None)
        if not isinstance(first, CaseSubmitted):
            raise InvalidInput("A case's history starts with its submission.")
        assert first.organisation_id is not None
        case = cls(
            id=first.case_id,
            organisation_id=first.organisation_id,
            reference=first.reference,
            subject=first.subject,
            description=first.description,
            priority=first.priority,
            status=CaseStatus.NEW,
            submitted_by=first.submitted_by,
            created_at=first.occurred_at,
            updated_at=first.occurred_at,
        )
        for event in iterator:
            case = case.apply(event)
        return case

    def apply(self, event: CaseEvent) -> Case:
        """The case after `event`. Pure: validation happened when the event was made."""
        if isinstance(event, CaseSubmitted) or event.case_id != self.id:
            raise InvalidInput(f"Event {event.event_id} does not belong to case {self.id}.")
        changed = evolve(self, updated_at=event.occurred_at, version=self.version + 1)
        match event:
            case CaseStatusChanged(new_status=new_status):
                resolved_at = changed.resolved_at
                closed_at = changed.closed_at
                if new_status is CaseStatus.RESOLVED:
                    resolved_at = event.occurred_at
                elif new_status is CaseStatus.CLOSED:
                    closed_at = event.occurred_at
                elif new_status.is_open:
                    resolved_at = closed_at = None
                return evolve(
                    changed, status=new_status, resolved_at=resolved_at, closed_at=closed_at
                )
            case CaseAssigned(assignee_id=assignee_id):
                return evolve(changed, assignee_id=assignee_id)
            case CaseDetailsChanged(subject=subject, description=description, priority=priority):
                return evolve(changed, subject=subject, description=description, priority=priority)
            case CaseLinked(external_id=external_id, external_number=external_number):
                return evolve(changed, external_id=external_id, external_number=external_number)
            case CaseSynced():
                return evolve(
                    changed,
                    status=event.status,
                    subject=event.subject,
                    description=event.description,
                    priority=event.priority,
                    external_number=event.external_number,
                    external_modified_at=event.external_modified_at,
                    resolved_at=_status_time(
                        event.status, CaseStatus.RESOLVED, self.resolved_at, event.occurred_at
                    ),
                    closed_at=_status_time(
                        event.status, CaseStatus.CLOSED, self.closed_at, event.occurred_at
                    ),
                )
            case _:  # comments and attachments change only the case's version and time
                return changed

    def _event_base(self, *, event_id: str, at: datetime, actor_id: str) -> dict[str, object]:
        return {
            "event_id": event_id,
            "occurred_at": at,
            "organisation_id": self.organisation_id,
            "actor_id": actor_id,
            "case_id": self.id,
        }

    def change_status(
        self,
        to: CaseStatus,
        *,
        by_staff: bool,
        actor_id: str,
        event_id: str,
        at: datetime,
        reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
    ) -> tuple[Case, CaseStatusChanged]:
        check_move(self, to, by_staff=by_staff, at=at, reopen_window=reopen_window)
        event = CaseStatusChanged(
            **self._event_base(event_id=event_id, at=at, actor_id=actor_id),  # type: ignore[arg-type]
            old_status=self.status,
            new_status=to,
        )
        return self.apply(event), event

    def assign(
        self, assignee_id: str | None, *, actor_id: str, event_id: str, at: datetime
    ) -> tuple[Case, CaseAssigned]:
        if assignee_id == self.assignee_id:
            raise InvalidInput(f"Case {self.reference} is already assigned that way.")
        event = CaseAssigned(
            **self._event_base(event_id=event_id, at=at, actor_id=actor_id),  # type: ignore[arg-type]
            assignee_id=assignee_id,
        )
        return self.apply(event), event

    def change_details(
        self,
        *,
        subject: str,
        description: str,
        priority: Priority,
        actor_id: str,
        event_id: str,
        at: datetime,
    ) -> tuple[Case, CaseDetailsChanged]:
        event = CaseDetailsChanged(
            **self._event_base(event_id=event_id, at=at, actor_id=actor_id),  # type: ignore[arg-type]
            subject=_clean_subject(subject),
            description=_clean_description(description),
            priority=priority,
        )
        return self.apply(event), event

    def add_comment(
        self,
        body: str,
        *,
        visibility: Visibility,
        comment_id: str,
        actor_id: str,
        event_id: str,
        at: datetime,
    ) -> tuple[Case, CommentAdded]:
        text = body.strip()
        if not text:
            raise InvalidInput("A comment needs some text.")
        if len(text) > MAX_COMMENT_LENGTH:
            raise InvalidInput(f"A comment is at most {MAX_COMMENT_LENGTH} characters.")
        if self.status is CaseStatus.CLOSED:
            raise InvalidTransition(
                f"Case {self.reference} is closed; reopen it or submit a new request."
            )
        event = CommentAdded(
            **self._event_base(event_id=event_id, at=at, actor_id=actor_id),  # type: ignore[arg-type]
            comment_id=comment_id,
            visibility=visibility,
            body=text,
        )
        return self.apply(event), event

    def add_attachment(
        self, attachment: Attachment, *, actor_id: str, event_id: str, at: datetime
    ) -> tuple[Case, AttachmentAdded]:
        if attachment.case_id != self.id:
            raise InvalidInput("The attachment belongs to another case.")
        event = AttachmentAdded(
            **self._event_base(event_id=event_id, at=at, actor_id=actor_id),  # type: ignore[arg-type]
            attachment_id=attachment.id,
            display_name=attachment.display_name,
            size=attachment.size,
            content_type=attachment.content_type,
        )
        return self.apply(event), event

    def sync_from(
        self,
        *,
        status: CaseStatus,
        subject: str,
        description: str,
        priority: Priority,
        external_number: str,
        external_modified_at: datetime,
        actor_id: str,
        event_id: str,
        at: datetime,
    ) -> tuple[Case, CaseSynced] | None:
        """Take the system of record's values, or None when they are not newer than ours."""
        if (
            self.external_modified_at is not None
            and external_modified_at <= self.external_modified_at
        ):
            return None
        event = CaseSynced(
            **self._event_base(event_id=event_id, at=at, actor_id=actor_id),  # type: ignore[arg-type]
            old_status=self.status,
            status=status,
            subject=_clean_subject(subject),
            description=_clean_description(description),
            priority=priority,
            external_number=external_number,
            external_modified_at=external_modified_at,
        )
        return self.apply(event), event

    def link(
        self, *, external_id: str, external_number: str, actor_id: str, event_id: str, at: datetime
    ) -> tuple[Case, CaseLinked]:
        event = CaseLinked(
            **self._event_base(event_id=event_id, at=at, actor_id=actor_id),  # type: ignore[arg-type]
            external_id=external_id,
            external_number=external_number,
        )
        return self.apply(event), event


@frozen(kw_only=True)
class Attachment:
    """A file on a case. The bytes live in the file store under `storage_key`, made by the server."""

    id: str
    case_id: str
    organisation_id: str
    display_name: str
    """The uploader's file name, cleaned; display data only, never part of a path."""
    size: int
    content_type: str
    checksum: str
    """SHA-256 of the content, lowercase hex."""
    storage_key: str
    uploaded_by: str
    uploaded_at: datetime

    def __attrs_post_init__(self) -> None:
        if self.size < 1:
            raise InvalidInput("An attachment cannot be empty.")


@frozen(kw_only=True)
class TimelineEntry:
    """One line of the history a person sees on a case page."""

    at: datetime
    kind: str
    actor_id: str
    text: str
    visibility: Visibility


def timeline(history: Sequence[CaseEvent], *, include_internal: bool) -> list[TimelineEntry]:
    """The case's story, oldest first; internal notes only when `include_internal` is true."""
    entries: list[TimelineEntry] = []
    for event in history:
        visibility = Visibility.PUBLIC
        match event:
            case CaseSubmitted():
                text = f"Request submitted: {event.subject}"
            case CaseStatusChanged():
                text = (
                    f"Status changed from {_label(event.old_status)} to {_label(event.new_status)}"
                )
            case CaseAssigned():
                text = "Assigned to a team member" if event.assignee_id else "Unassigned"
            case CaseDetailsChanged():
                text = "Details updated"
            case CommentAdded():
                visibility = event.visibility
                text = event.body
            case AttachmentAdded():
                text = f"File added: {event.display_name}"
            case CaseLinked():
                text = f"Registered as case {event.external_number}"
            case CaseSynced():
                text = (
                    f"Status changed from {_label(event.old_status)} to {_label(event.status)}"
                    if event.status is not event.old_status
                    else "Details updated"
                )
        if visibility is Visibility.INTERNAL and not include_internal:
            continue
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                kind=event.kind,
                actor_id=event.actor_id,
                text=text,
                visibility=visibility,
            )
        )
    return entries


def _status_time(
    status: CaseStatus, marker: CaseStatus, current: datetime | None, at: datetime
) -> datetime | None:
    """When the case reached `marker`: kept while it stays there, cleared once it reopens."""
    if status is marker:
        return current or at
    if status.is_open:
        return None
    return current


def _label(status: CaseStatus) -> str:
    return status.value.replace("_", " ")
