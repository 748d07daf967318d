"""Files: upload tickets, confirmation, short-lived download links, a case's files as a zip."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import Provide
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Stream
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER

from adapters.zipstream import stream_zip
from entrypoints.web.api.common import Idempotent, provide_idempotent_call
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from portal_core.cases.files import content_disposition
from portal_core.cases.uploads import ConfirmUpload, RequestUpload, archive_entries


class UploadIn(msgspec.Struct, frozen=True):
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
    content_type: Annotated[str, msgspec.Meta(max_length=255)] = ""
    size: Annotated[int, msgspec.Meta(ge=0)] | None = None
    organisation_id: str | None = None
    """Staff name the client organisation; ignored for clients."""


class UploadTicketOut(msgspec.Struct, frozen=True):
    """Send the file with a multipart POST to `url`: every field of `fields`, the file last."""

    upload_id: FromPath[str]
    display_name: str
    content_type: str
    url: str
    fields: dict[str, str]
    expires_at: str
    max_size: int


class ConfirmIn(msgspec.Struct, frozen=True):
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
    organisation_id: str | None = None


class ConfirmedOut(msgspec.Struct, frozen=True):
    """Pass `upload_id` and `display_name` in `files` when submitting or attaching."""

    upload_id: FromPath[str]
    display_name: str


class DownloadLinkOut(msgspec.Struct, frozen=True):
    url: str
    expires_in_seconds: int


class FilesController(Controller):
    tags = ["files"]  # noqa: RUF012
    dependencies = {"idempotent": Provide(provide_idempotent_call)}  # noqa: RUF012

    @post("/uploads", summary="Ask for an upload ticket", sync_to_thread=True)
    def request_upload(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        idempotent: Idempotent,
        data: JSONBody[UploadIn],
    ) -> Response[UploadTicketOut]:
        def operation() -> UploadTicketOut:
            grant = container.uploads.request_upload(
                principal,
                RequestUpload(
                    display_name=data.display_name,
                    content_type=data.content_type,
                    size=data.size,
                    organisation_id=data.organisation_id,
                ),
            )
            return UploadTicketOut(
                upload_id=grant.upload_id,
                display_name=grant.display_name,
                content_type=grant.content_type,
                url=grant.ticket.url,
                fields=dict(grant.ticket.fields),
                expires_at=grant.ticket.expires_at.isoformat(),
                max_size=grant.ticket.max_size,
            )

        return idempotent.respond(operation)

    @post(
        "/uploads/{upload_id:str}/confirm",
        summary="Confirm an upload once the file is sent",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
    )
    def confirm_upload(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        upload_id: FromPath[str],
        data: JSONBody[ConfirmIn],
    ) -> ConfirmedOut:
        confirmed = container.uploads.confirm_upload(
            principal,
            ConfirmUpload(
                upload_id=upload_id,
                display_name=data.display_name,
                organisation_id=data.organisation_id,
            ),
        )
        return ConfirmedOut(upload_id=upload_id, display_name=confirmed.display_name)

    @get(
        "/attachments/{attachment_id:str}/download",
        summary="Download a file (303 to a short-lived link)",
        status_code=HTTP_303_SEE_OTHER,
        sync_to_thread=True,
    )
    def download(
        self, principal: SignedInPrincipal, container: PortalContainer, attachment_id: FromPath[str]
    ) -> Redirect:
        attachment = container.cases.get_attachment(principal, attachment_id)
        link = container.uploads.download_link(principal, attachment)
        return Redirect(link, status_code=HTTP_303_SEE_OTHER)

    @get(
        "/attachments/{attachment_id:str}/link",
        summary="A short-lived download link for a file, as JSON",
        sync_to_thread=True,
    )
    def download_link(
        self, principal: SignedInPrincipal, container: PortalContainer, attachment_id: FromPath[str]
    ) -> DownloadLinkOut:
        attachment = container.cases.get_attachment(principal, attachment_id)
        life: timedelta = container.file_limits.download_link_life
        return DownloadLinkOut(
            url=container.uploads.download_link(principal, attachment),
            expires_in_seconds=int(life.total_seconds()),
        )

    @get(
        "/cases/{case_id:str}/files.zip",
        summary="Every file of a case as one zip",
        media_type="application/zip",
        opt={"skip_compression": True},
        sync_to_thread=True,
    )
    def case_zip(
        self, principal: SignedInPrincipal, container: PortalContainer, case_id: FromPath[str]
    ) -> Stream:
        detail = container.cases.get_case(principal, case_id)
        return Stream(
            stream_zip(container.files, archive_entries(detail.attachments)),
            media_type="application/zip",
            headers={
                "Content-Disposition": content_disposition(f"{detail.case.reference}.zip"),
                "Cache-Control": "private, no-store",
            },
        )
