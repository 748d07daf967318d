"""Case use cases: submit, comment, change status, assign, list, read.

Each use case checks access first, changes the aggregate, stores it with its event, audit entry
and outbox row in one unit of work, and dispatches the events only after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from attrs import frozen

from portal_core import access
from portal_core.cases.files import clean_display_name, upload_prefix
from portal_core.cases.model import (
    DEFAULT_REOPEN_WINDOW,
    Attachment,
    Case,
    CaseEvent,
    CaseStatus,
    Priority,
    TimelineEntry,
    Visibility,
    timeline,
)
from portal_core.dispatch import EventDispatcher, record_change
from portal_core.errors import InvalidInput, NotFound
from portal_core.events import DomainEvent
from portal_core.organisations.model import Principal
from portal_core.ports import (
    CaseQuery,
    Clock,
    FileStore,
    IdGenerator,
    Page,
    UnitOfWork,
    UnitOfWorkFactory,
)

CASE_REFERENCE_SERIES = "case"
MAX_ATTACHMENTS_PER_REQUEST = 20


def format_case_reference(number: int) -> str:
    return f"C-{number:06d}"


# --- commands ----------------------------------------------------------------------------------


@frozen(kw_only=True)
class UploadedFile:
    """A file the client already uploaded to the file store, to attach to a case."""

    storage_key: str
    display_name: str


@frozen(kw_only=True)
class SubmitCase:
    subject: str
    description: str
    priority: Priority = Priority.NORMAL
    organisation_id: str | None = None
    """Staff submitting on a client's behalf name the organisation; clients never need to."""
    files: tuple[UploadedFile, ...] = ()


@frozen(kw_only=True)
class AddComment:
    case_id: str
    body: str
    visibility: Visibility = Visibility.PUBLIC


@frozen(kw_only=True)
class ChangeStatus:
    case_id: str
    status: CaseStatus
    expected_version: int | None = None
    """The version the person saw; a newer stored version means someone else changed it."""


@frozen(kw_only=True)
class AssignCase:
    case_id: str
    assignee_id: str | None


@frozen(kw_only=True)
class AttachFiles:
    case_id: str
    files: tuple[UploadedFile, ...]


# --- results -------------------------------------------------------------------------------------


@frozen(kw_only=True)
class CaseDetail:
    """A case as one principal may see it."""

    case: Case
    timeline: tuple[TimelineEntry, ...]
    attachments: tuple[Attachment, ...]


# --- the service ------------------------------------------------------------------------------


class CaseService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        files: FileStore,
        dispatcher: EventDispatcher,
        reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._files = files
        self._dispatcher = dispatcher
        self._reopen_window = reopen_window

    # commands

    def submit(self, principal: Principal, command: SubmitCase) -> Case:
        organisation_id = self._target_organisation(principal, command.organisation_id)
        access.require(
            access.can_submit_case(principal, organisation_id),
            "Your role cannot submit requests for this organisation.",
        )
        if len(command.files) > MAX_ATTACHMENTS_PER_REQUEST:
            raise InvalidInput(f"At most {MAX_ATTACHMENTS_PER_REQUEST} files per request.")
        now = self._clock.now()
        events: list[DomainEvent] = []
        with self._uow() as uow:
            organisation = uow.organisations.get(organisation_id)
            if organisation is None or not organisation.active:
                raise NotFound("No such organisation.")
            number = uow.counters.next_value(CASE_REFERENCE_SERIES)
            case, submitted = Case.submit(
                case_id=self._ids.new_id(),
                organisation_id=organisation_id,
                reference=format_case_reference(number),
                subject=command.subject,
                description=command.description,
                priority=command.priority,
                submitted_by=principal.user_id,
                event_id=self._ids.new_id(),
                at=now,
            )
            uow.cases.add(case)
            self._store_event(uow, submitted, case, {"reference": case.reference})
            events.append(submitted)
            stored = case
            case = self._attach(uow, principal, case, command.files, events)
            if case.version != stored.version:
                uow.cases.update(case, expected_version=stored.version)
            uow.commit()
        self._dispatcher.dispatch(events)
        return case

    def comment(self, principal: Principal, command: AddComment) -> Case:
        with self._uow() as uow:
            case = access.require_case(principal, uow.cases.get(command.case_id))
            access.require(
                access.can_comment(principal, case, command.visibility),
                "You cannot add this kind of comment to this case."
                if command.visibility is Visibility.PUBLIC
                else "Only the firm's staff can add internal notes.",
            )
            before = case.version
            now = self._clock.now()
            case, added = case.add_comment(
                command.body,
                visibility=command.visibility,
                comment_id=self._ids.new_id(),
                actor_id=principal.user_id,
                event_id=self._ids.new_id(),
                at=now,
            )
            events: list[DomainEvent] = [added]
            self._store_event(uow, added, case, {"visibility": command.visibility.value})
            # A client's reply to a case waiting on them hands the case back to the firm.
            if not principal.is_staff and case.status is CaseStatus.WAITING_ON_CLIENT:
                case, moved = case.change_status(
                    CaseStatus.IN_PROGRESS,
                    by_staff=True,
                    actor_id=principal.user_id,
                    event_id=self._ids.new_id(),
                    at=now,
                )
                self._store_event(uow, moved, case, _status_details(moved.old_status, case.status))
                events.append(moved)
            uow.cases.update(case, expected_version=before)
            uow.commit()
        self._dispatcher.dispatch(events)
        return case

    def change_status(self, principal: Principal, command: ChangeStatus) -> Case:
        with self._uow() as uow:
            case = access.require_case(principal, uow.cases.get(command.case_id))
            access.require(
                access.can_change_status(principal, case),
                "Your role cannot change the status of this case.",
            )
            before = command.expected_version or case.version
            old_status = case.status
            case, changed = case.change_status(
                command.status,
                by_staff=principal.is_staff,
                actor_id=principal.user_id,
                event_id=self._ids.new_id(),
                at=self._clock.now(),
                reopen_window=self._reopen_window,
            )
            self._store_event(uow, changed, case, _status_details(old_status, case.status))
            uow.cases.update(case, expected_version=before)
            uow.commit()
        self._dispatcher.dispatch([changed])
        return case

    def assign(self, principal: Principal, command: AssignCase) -> Case:
        access.require(access.can_assign(principal), "Only the firm's staff assign cases.")
        with self._uow() as uow:
            case = access.require_case(principal, uow.cases.get(command.case_id))
            if command.assignee_id is not None:
                assignee = uow.users.get(command.assignee_id)
                if assignee is None or not assignee.active or not assignee.as_principal().is_staff:
                    raise InvalidInput("Cases are assigned to active members of staff.")
            before = case.version
            case, assigned = case.assign(
                command.assignee_id,
                actor_id=principal.user_id,
                event_id=self._ids.new_id(),
                at=self._clock.now(),
            )
            self._store_event(uow, assigned, case, {"assignee_id": command.assignee_id or ""})
            uow.cases.update(case, expected_version=before)
            uow.commit()
        self._dispatcher.dispatch([assigned])
        return case

    def attach_files(self, principal: Principal, command: AttachFiles) -> Case:
        events: list[DomainEvent] = []
        with self._uow() as uow:
            case = access.require_case(principal, uow.cases.get(command.case_id))
            access.require(
                access.can_upload(principal, case), "Your role cannot add files to this case."
            )
            if not command.files:
                raise InvalidInput("Choose at least one file.")
            before = case.version
            case = self._attach(uow, principal, case, command.files, events)
            uow.cases.update(case, expected_version=before)
            uow.commit()
        self._dispatcher.dispatch(events)
        return case

    # queries

    def list_cases(self, principal: Principal, query: CaseQuery) -> Page[Case]:
        scope = access.organisation_scope(principal)
        if scope is not None and query.organisation_id not in (None, scope):
            # A client asking for another organisation's cases gets none, not an error that
            # would confirm the organisation exists.
            return Page(items=(), total=0, page=query.page, page_size=query.page_size)
        with self._uow(read_only=True) as uow:
            return uow.cases.search(query, scope=scope)

    def get_case(self, principal: Principal, case_id: str) -> CaseDetail:
        with self._uow(read_only=True) as uow:
            case = access.require_case(principal, uow.cases.get(case_id))
            history = access.visible_history(principal, list(uow.history.for_case(case.id)))
            attachments = uow.attachments.for_case(case.id)
        return CaseDetail(
            case=case,
            timeline=tuple(
                timeline(history, include_internal=access.can_see_internal_notes(principal))
            ),
            attachments=tuple(attachments),
        )

    def get_attachment(self, principal: Principal, attachment_id: str) -> Attachment:
        with self._uow(read_only=True) as uow:
            attachment = uow.attachments.get(attachment_id)
            if attachment is None or not access.can_see_organisation(
                principal, attachment.organisation_id
            ):
                raise NotFound("No such file.")
            return attachment

    def recent_activity(self, principal: Principal, *, limit: int = 10) -> Sequence[CaseEvent]:
        scope = access.organisation_scope(principal)
        with self._uow(read_only=True) as uow:
            events = list(uow.history.recent(scope=scope, limit=limit * 2))
        return access.visible_history(principal, events)[:limit]

    # helpers

    def _target_organisation(self, principal: Principal, requested: str | None) -> str:
        if principal.is_staff:
            if requested is None:
                raise InvalidInput("Name the client organisation this request is for.")
            return requested
        if principal.organisation_id is None:
            raise NotFound("No such organisation.")
        # A client's own organisation always wins: a client cannot file into another tenant.
        return principal.organisation_id

    def _attach(
        self,
        uow: UnitOfWork,
        principal: Principal,
        case: Case,
        files: Sequence[UploadedFile],
        events: list[DomainEvent],
    ) -> Case:
        prefix = upload_prefix(case.organisation_id)
        seen: set[str] = set()
        for upload in files:
            if not upload.storage_key.startswith(prefix) or upload.storage_key in seen:
                raise NotFound("No such upload.")
            seen.add(upload.storage_key)
            stored = self._files.describe(upload.storage_key)
            if stored is None:
                raise NotFound("No such upload.")
            attachment = Attachment(
                id=self._ids.new_id(),
                case_id=case.id,
                organisation_id=case.organisation_id,
                display_name=clean_display_name(upload.display_name),
                size=stored.size,
                content_type=stored.content_type,
                checksum=stored.checksum,
                storage_key=stored.key,
                uploaded_by=principal.user_id,
                uploaded_at=self._clock.now(),
            )
            uow.attachments.add(attachment)
            case, added = case.add_attachment(
                attachment,
                actor_id=principal.user_id,
                event_id=self._ids.new_id(),
                at=self._clock.now(),
            )
            self._store_event(uow, added, case, {"attachment_id": attachment.id})
            events.append(added)
        return case

    def _store_event(
        self, uow: UnitOfWork, event: CaseEvent, case: Case, details: dict[str, str]
    ) -> None:
        uow.history.append(event)
        record_change(
            uow, event, ids=self._ids, subject_type="case", subject_id=case.id, details=details
        )


def _status_details(old: CaseStatus, new: CaseStatus) -> dict[str, str]:
    return {"from": old.value, "to": new.value}
