"""Files from a page form, in both ways the browser may send them.

With JavaScript the browser asks `upload_ticket` for a ticket, sends the file straight to the
file store (S3's presigned POST, or the portal's own signed link), and the form then carries
the upload ids. Without JavaScript the form carries the files themselves, and the server takes
the same path on the browser's behalf: ticket, delivery to the store, confirmation. Either way
`FileService.confirm_upload` checks every file before a case sees it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from litestar.datastructures import FormMultiDict, UploadFile

from adapters.local.files import UPLOAD_FILE_FIELD, UPLOAD_PATH, LocalDiskFileStore
from adapters.memory import InMemoryFileStore
from entrypoints.bootstrap import Container
from portal_core.cases.service import UploadedFile
from portal_core.cases.uploads import ConfirmUpload, RequestUpload
from portal_core.errors import InvalidInput
from portal_core.organisations.model import Principal
from portal_core.ports import FileStore, UploadTicket

READ_CHUNK = 64 * 1024
UPLOAD_ID_FIELD = "upload_id"
UPLOAD_NAME_FIELD = "upload_name"
FILES_FIELD = "files"
S3_POST_TIMEOUT = 60.0


def files_in_form(form: FormMultiDict) -> list[UploadFile]:
    """The files chosen in the form's file input (an empty input sends one nameless part)."""
    return [
        part
        for part in form.getall(FILES_FIELD, [])
        if isinstance(part, UploadFile) and part.filename
    ]


def uploads_in_form(form: FormMultiDict) -> list[tuple[str, str]]:
    """(upload id, display name) of the files the browser already sent with a ticket."""
    ids = [value for value in form.getall(UPLOAD_ID_FIELD, []) if isinstance(value, str)]
    names = [value for value in form.getall(UPLOAD_NAME_FIELD, []) if isinstance(value, str)]
    if len(ids) != len(names):
        raise InvalidInput("The list of uploaded files is incomplete; please choose them again.")
    return list(zip(ids, names, strict=True))


def confirmed_files(
    container: Container,
    principal: Principal,
    *,
    sent: Sequence[tuple[str, str]],
    attached: Sequence[UploadFile],
    organisation_id: str | None = None,
) -> tuple[UploadedFile, ...]:
    """Every file of the form, checked and moved to the organisation's uploads."""
    confirmed: list[UploadedFile] = []
    for upload_id, display_name in sent:
        confirmed.append(
            container.uploads.confirm_upload(
                principal,
                ConfirmUpload(
                    upload_id=upload_id,
                    display_name=display_name,
                    organisation_id=organisation_id,
                ),
            )
        )
    for part in attached:
        size = _size_of(part)
        grant = container.uploads.request_upload(
            principal,
            RequestUpload(
                display_name=part.filename,
                content_type=part.content_type or "",
                size=size,
                organisation_id=organisation_id,
            ),
        )
        deliver(container.files, grant.ticket, _chunks(part), content_type=grant.content_type)
        confirmed.append(
            container.uploads.confirm_upload(
                principal,
                ConfirmUpload(
                    upload_id=grant.upload_id,
                    display_name=grant.display_name,
                    organisation_id=organisation_id,
                ),
            )
        )
    return tuple(confirmed)


def deliver(
    store: FileStore, ticket: UploadTicket, chunks: Iterator[bytes], *, content_type: str
) -> None:
    """Send a file to where its ticket points, as the browser would have."""
    if isinstance(store, LocalDiskFileStore):
        token = urlsplit(ticket.url).path.removeprefix(UPLOAD_PATH)
        store.accept_upload(token, chunks, content_type=content_type)
    elif isinstance(store, InMemoryFileStore):
        store.put(ticket.key, b"".join(chunks), content_type)
    else:  # S3: the presigned POST, with its policy fields before the file
        body = b"".join(chunks)
        response = httpx.post(
            ticket.url,
            data=ticket.fields,
            files={UPLOAD_FILE_FIELD: ("upload", body, content_type)},
            timeout=S3_POST_TIMEOUT,
        )
        if response.status_code >= 400:
            raise InvalidInput("The file store refused this file; it may be too large.")


def _size_of(part: UploadFile) -> int:
    part.file.seek(0, 2)
    size = part.file.tell()
    part.file.seek(0)
    return size


def _chunks(part: UploadFile) -> Iterator[bytes]:
    part.file.seek(0)
    while chunk := part.file.read(READ_CHUNK):
        yield chunk


def ticket_json(grant: Any) -> dict[str, Any]:
    return {
        "upload_id": grant.upload_id,
        "display_name": grant.display_name,
        "content_type": grant.content_type,
        "url": grant.ticket.url,
        "fields": grant.ticket.fields,
        "max_size": grant.ticket.max_size,
    }
