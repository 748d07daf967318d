"""Cases: list with filters and pages, detail with timeline, submit with files, comment, status."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from entrypoints.web.api.common import Idempotent, provide_idempotent_call
from entrypoints.web.auth import requires_staff
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from portal_core.cases.files import upload_key
from portal_core.cases.model import (
    Attachment,
    Case,
    CaseStatus,
    Priority,
    TimelineEntry,
    Visibility,
)
from portal_core.cases.service import (
    AddComment,
    AssignCase,
    AttachFiles,
    CaseDetail,
    ChangeStatus,
    SubmitCase,
    UploadedFile,
)
from portal_core.errors import InvalidInput, NotFound
from portal_core.organisations.model import Principal, Role
from portal_core.ports import MAX_PAGE_SIZE, CaseQuery
from portal_core.sync.outbound import is_pending


class CaseOut(msgspec.Struct, frozen=True):
    id: str
    reference: str
    """The portal's own number, given at submission."""
    number: str
    """The number to show people: the case system's (Salesforce CaseNumber) once it has one."""
    external_number: str | None
    pending: bool
    """Not yet accepted by the case system of record; `number` is the portal's reference."""
    organisation_id: FromPath[str]
    subject: str
    description: str
    status: CaseStatus
    priority: Priority
    assignee_id: str | None
    created_at: str
    updated_at: str
    version: int


class CasePageOut(msgspec.Struct, frozen=True):
    items: list[CaseOut]
    total: int
    page: int
    page_size: int
    has_next: bool


class TimelineEntryOut(msgspec.Struct, frozen=True):
    at: str
    kind: str
    actor_id: str
    text: str
    visibility: Visibility


class AttachmentOut(msgspec.Struct, frozen=True):
    id: str
    display_name: str
    size: int
    content_type: str
    uploaded_at: str


class CaseDetailOut(msgspec.Struct, frozen=True):
    case: CaseOut
    timeline: list[TimelineEntryOut]
    attachments: list[AttachmentOut]


class FileIn(msgspec.Struct, frozen=True):
    """A confirmed upload (`POST /uploads/{upload_id}/confirm`) to attach."""

    upload_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]


class SubmitCaseIn(msgspec.Struct, frozen=True):
    subject: Annotated[str, msgspec.Meta(max_length=10_000)]
    description: Annotated[str, msgspec.Meta(max_length=100_000)]
    priority: Priority = Priority.NORMAL
    organisation_id: str | None = None
    """Staff name the client organisation; a client's own organisation always wins."""
    files: Annotated[list[FileIn], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )


class AttachFilesIn(msgspec.Struct, frozen=True):
    files: Annotated[list[FileIn], msgspec.Meta(max_length=100)]


class CommentIn(msgspec.Struct, frozen=True):
    body: Annotated[str, msgspec.Meta(max_length=100_000)]
    visibility: Visibility = Visibility.PUBLIC


class StatusIn(msgspec.Struct, frozen=True):
    status: CaseStatus
    expected_version: int | None = None
    """The version you saw; 409 if someone changed the case since."""


class AssigneeIn(msgspec.Struct, frozen=True):
    assignee_id: str | None


def case_out(case: Case) -> CaseOut:
    return CaseOut(
        id=case.id,
        reference=case.reference,
        number=case.number,
        external_number=case.external_number,
        pending=is_pending(case),
        organisation_id=case.organisation_id,
        subject=case.subject,
        description=case.description,
        status=case.status,
        priority=case.priority,
        assignee_id=case.assignee_id,
        created_at=case.created_at.isoformat(),
        updated_at=case.updated_at.isoformat(),
        version=case.version,
    )


def _timeline_entry(entry: TimelineEntry) -> TimelineEntryOut:
    return TimelineEntryOut(
        at=entry.at.isoformat(),
        kind=entry.kind,
        actor_id=entry.actor_id,
        text=entry.text,
        visibility=entry.visibility,
    )


def attachment_out(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.id,
        display_name=attachment.display_name,
        size=attachment.size,
        content_type=attachment.content_type,
        uploaded_at=attachment.uploaded_at.isoformat(),
    )


def detail_out(detail: CaseDetail) -> CaseDetailOut:
    return CaseDetailOut(
        case=case_out(detail.case),
        timeline=[_timeline_entry(e) for e in detail.timeline],
        attachments=[attachment_out(a) for a in detail.attachments],
    )


def uploaded_files(
    principal: Principal, organisation_id: str | None, files: list[FileIn]
) -> tuple[UploadedFile, ...]:
    """Confirmed uploads by id, under the organisation's prefix (the server makes the key)."""
    owner = organisation_id if principal.is_staff else principal.organisation_id
    if not files:
        return ()
    if owner is None:
        if principal.is_staff:
            raise InvalidInput("Name the client organisation these files are for.")
        raise NotFound("No such upload.")
    return tuple(
        UploadedFile(storage_key=upload_key(owner, f.upload_id), display_name=f.display_name)
        for f in files
    )


def _reader(principal: Principal) -> tuple[str | None, frozenset[Role]]:
    """What a kept answer depends on besides the request: whose cases, seen with which roles
    (internal notes, for one, are for staff only). Two people share an answer only when both
    are the same."""
    return principal.organisation_id, principal.roles


class CasesController(Controller):
    path = "/cases"
    tags = ["cases"]  # noqa: RUF012
    dependencies = {"idempotent": Provide(provide_idempotent_call)}  # noqa: RUF012

    @get("/", summary="List cases")
    async def list_cases(
        self,
        *,
        principal: SignedInPrincipal,
        container: PortalContainer,
        status: Annotated[list[CaseStatus] | None, QueryParameter(required=False)] = None,
        priority: FromQuery[Priority | None] = None,
        assignee: Annotated[str | None, QueryParameter(max_length=100)] = None,
        organisation_id: Annotated[str | None, QueryParameter(max_length=100)] = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 25,
    ) -> CasePageOut:
        """Newest activity first. Clients see their organisation's cases only."""
        query = CaseQuery(
            organisation_id=organisation_id,
            statuses=frozenset(status or ()),
            priority=priority,
            assignee_id=assignee,
            text=q,
            page=page,
            page_size=page_size,
        )

        def listed() -> CasePageOut:
            found = container.cases.list_cases(principal, query)
            return CasePageOut(
                items=[case_out(c) for c in found.items],
                total=found.total,
                page=found.page,
                page_size=found.page_size,
                has_next=found.has_next,
            )

        return await container.reads.get_or_make(("cases", *_reader(principal), query), listed)

    @post("/", summary="Submit a case, with confirmed uploads", sync_to_thread=True)
    def submit(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        idempotent: Idempotent,
        data: JSONBody[SubmitCaseIn],
    ) -> Response[CaseDetailOut]:
        def operation() -> CaseDetailOut:
            case = container.cases.submit(
                principal,
                SubmitCase(
                    subject=data.subject,
                    description=data.description,
                    priority=data.priority,
                    organisation_id=data.organisation_id,
                    files=uploaded_files(principal, data.organisation_id, data.files),
                ),
            )
            return detail_out(container.cases.get_case(principal, case.id))

        return idempotent.respond(operation)

    @get("/{case_id:str}", summary="A case with its timeline and files")
    async def detail(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        case_id: FromPath[str],
    ) -> CaseDetailOut:
        return await container.reads.get_or_make(
            ("case", *_reader(principal), case_id),
            lambda: detail_out(container.cases.get_case(principal, case_id)),
        )

    @post("/{case_id:str}/comments", summary="Comment on a case", sync_to_thread=True)
    def comment(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        idempotent: Idempotent,
        case_id: FromPath[str],
        data: JSONBody[CommentIn],
    ) -> Response[CaseOut]:
        command = AddComment(case_id=case_id, body=data.body, visibility=data.visibility)
        return idempotent.respond(lambda: case_out(container.cases.comment(principal, command)))

    @post("/{case_id:str}/attachments", summary="Attach confirmed uploads", sync_to_thread=True)
    def attach(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        idempotent: Idempotent,
        case_id: FromPath[str],
        data: JSONBody[AttachFilesIn],
    ) -> Response[CaseDetailOut]:
        def operation() -> CaseDetailOut:
            case = container.cases.get_case(principal, case_id).case
            files = uploaded_files(principal, case.organisation_id, data.files)
            container.cases.attach_files(principal, AttachFiles(case_id=case_id, files=files))
            return detail_out(container.cases.get_case(principal, case_id))

        return idempotent.respond(operation)

    @post(
        "/{case_id:str}/status",
        summary="Change a case's status",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
    )
    def change_status(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        case_id: FromPath[str],
        data: JSONBody[StatusIn],
    ) -> CaseOut:
        command = ChangeStatus(
            case_id=case_id, status=data.status, expected_version=data.expected_version
        )
        return case_out(container.cases.change_status(principal, command))

    @post(
        "/{case_id:str}/assignee",
        summary="Assign a case to a member of staff (staff)",
        guards=[requires_staff],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
    )
    def assign(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        case_id: FromPath[str],
        data: JSONBody[AssigneeIn],
    ) -> CaseOut:
        command = AssignCase(case_id=case_id, assignee_id=data.assignee_id)
        return case_out(container.cases.assign(principal, command))
