"""File use cases: ask for an upload ticket, confirm an upload, download links, case archives.

The flow, for a case being submitted or a case that exists:

1. `FileService.request_upload` checks the declared type and the organisation's quota, and
   returns a ticket for one browser upload straight to the file store, under a key the server
   made (`incoming/org/<organisation>/<upload id>`).
2. The browser sends the file with the ticket (a presigned POST to S3, or the portal's own
   signed upload link for local disk).
3. `FileService.confirm_upload` checks what arrived, by size and by content, and moves it to
   the organisation's `upload/` prefix; refused files are deleted, or quarantined when their
   content contradicts their type. It returns the `UploadedFile` to pass to
   `CaseService.submit` (`SubmitCase.files`) or `CaseService.attach_files` (`AttachFiles.files`),
   which attach only from `upload/`, so an unconfirmed upload can never reach a case.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NoReturn

from attrs import frozen

from portal_core import access
from portal_core.cases.content import (
    HEAD_SIZE,
    ContentVerdict,
    check_size,
    check_upload,
    format_size,
    is_compressed,
    resolve_declared_type,
    served_content_type,
)
from portal_core.cases.files import (
    clean_display_name,
    incoming_key,
    incoming_prefix,
    organisation_prefix,
    quarantine_key,
    upload_id_of,
    upload_key,
)
from portal_core.cases.model import Attachment
from portal_core.cases.service import UploadedFile
from portal_core.errors import InvalidInput, NotFound
from portal_core.organisations.model import Principal
from portal_core.ports import FileStore, IdGenerator, StoredObject, UploadTicket

logger = logging.getLogger(__name__)


@frozen(kw_only=True)
class FileLimits:
    """Limits for files, from settings."""

    max_file_size: int = 25 * 10**6
    organisation_quota: int = 5 * 10**9
    """Bytes an organisation may keep in confirmed uploads."""
    upload_link_life: timedelta = timedelta(minutes=10)
    download_link_life: timedelta = timedelta(minutes=5)

    def __attrs_post_init__(self) -> None:
        if self.max_file_size < 1 or self.organisation_quota < 1:
            raise ValueError("File size limit and quota must be positive.")
        if self.upload_link_life <= timedelta(0) or self.download_link_life <= timedelta(0):
            raise ValueError("Links must live for some time.")


# --- commands and results ------------------------------------------------------------------


@frozen(kw_only=True)
class RequestUpload:
    display_name: str
    content_type: str
    """What the browser reports (`File.type`); empty when it does not know."""
    size: int | None = None
    """The size the browser reports, to refuse an oversized file before it is sent."""
    organisation_id: str | None = None
    """Staff uploading for a client name the organisation; clients never need to."""


@frozen(kw_only=True)
class UploadGrant:
    upload_id: str
    display_name: str
    content_type: str
    ticket: UploadTicket


@frozen(kw_only=True)
class ConfirmUpload:
    upload_id: str
    display_name: str
    organisation_id: str | None = None


@frozen(kw_only=True)
class ArchiveEntry:
    """One file in a case's zip: its unique name in the archive and where its bytes are."""

    name: str
    storage_key: str
    size: int
    modified_at: datetime
    compress: bool


class FileRefused(InvalidInput):
    """An upload broke a file rule; `message` tells the person why, `refusal` the machine."""

    code = "file_refused"

    def __init__(self, verdict: ContentVerdict) -> None:
        super().__init__(verdict.message)
        self.refusal = verdict.refusal


class QuotaExceeded(InvalidInput):
    code = "quota_exceeded"


# --- the service ---------------------------------------------------------------------------


class FileService:
    def __init__(self, *, files: FileStore, ids: IdGenerator, limits: FileLimits) -> None:
        self._files = files
        self._ids = ids
        self._limits = limits

    def request_upload(self, principal: Principal, command: RequestUpload) -> UploadGrant:
        organisation_id = _target_organisation(principal, command.organisation_id)
        display_name = clean_display_name(command.display_name)
        declared = resolve_declared_type(command.content_type, display_name)
        if declared.content_type is None:
            self._refuse(organisation_id, None, declared, detail=command.content_type)
        content_type = declared.content_type
        if command.size is not None:
            by_size = check_size(command.size, self._limits.max_file_size)
            if by_size is not None:
                self._refuse(organisation_id, None, by_size, detail=str(command.size))
        remaining = self._limits.organisation_quota - self._files.usage(
            organisation_prefix(organisation_id)
        )
        if remaining < max(command.size or 1, 1):
            logger.warning(
                "upload refused: organisation %s is over its quota (%d bytes left)",
                organisation_id,
                remaining,
            )
            raise QuotaExceeded(
                "Your organisation has used its storage allowance of "
                f"{format_size(self._limits.organisation_quota)}; "
                "please ask the firm to remove old files."
            )
        upload_id = self._ids.new_id()
        ticket = self._files.upload_ticket(
            incoming_key(organisation_id, upload_id),
            content_type=content_type,
            # The ticket itself keeps the file within what is left of the quota.
            max_size=min(self._limits.max_file_size, remaining),
            expires_in=self._limits.upload_link_life,
        )
        return UploadGrant(
            upload_id=upload_id,
            display_name=display_name,
            content_type=content_type,
            ticket=ticket,
        )

    def confirm_upload(self, principal: Principal, command: ConfirmUpload) -> UploadedFile:
        organisation_id = _target_organisation(principal, command.organisation_id)
        incoming = incoming_key(organisation_id, command.upload_id)
        if upload_id_of(incoming, incoming_prefix(organisation_id)) is None:
            raise NotFound("No such upload.")
        confirmed_key = upload_key(organisation_id, command.upload_id)
        display_name = clean_display_name(command.display_name)
        stored = self._files.describe(incoming)
        if stored is None:
            # A retried confirmation finds the file already moved.
            if self._files.describe(confirmed_key) is not None:
                return UploadedFile(storage_key=confirmed_key, display_name=display_name)
            raise NotFound("No such upload: it did not arrive, or its link had expired.")
        verdict = check_upload(
            stored.content_type,
            stored.size,
            self._files.read_head(incoming, HEAD_SIZE),
            self._limits.max_file_size,
        )
        if not verdict.accepted:
            self._discard(organisation_id, command.upload_id, stored, verdict)
        used = self._files.usage(organisation_prefix(organisation_id))
        if used + stored.size > self._limits.organisation_quota:
            self._files.delete(incoming)
            logger.warning(
                "upload %s of organisation %s deleted: %d bytes would exceed the quota",
                command.upload_id,
                organisation_id,
                stored.size,
            )
            raise QuotaExceeded(
                "This file does not fit in your organisation's storage allowance of "
                f"{format_size(self._limits.organisation_quota)}."
            )
        moved = self._files.move(incoming, confirmed_key)
        logger.info(
            "upload %s of organisation %s confirmed: %s, %d bytes",
            command.upload_id,
            organisation_id,
            moved.content_type,
            moved.size,
        )
        return UploadedFile(storage_key=moved.key, display_name=display_name)

    def download_link(self, principal: Principal, attachment: Attachment) -> str:
        """A short-lived link that downloads `attachment` as a file, never displayed inline."""
        if not access.can_see_organisation(principal, attachment.organisation_id):
            raise NotFound("No such file.")
        return self._files.download_link(
            attachment.storage_key,
            display_name=attachment.display_name,
            content_type=served_content_type(attachment.content_type),
            expires_in=self._limits.download_link_life,
        )

    def _discard(
        self,
        organisation_id: str,
        upload_id: str,
        stored: StoredObject,
        verdict: ContentVerdict,
    ) -> NoReturn:
        if verdict.refusal is not None and verdict.refusal.quarantines:
            self._files.move(stored.key, quarantine_key(organisation_id, upload_id))
            action = "quarantined"
        else:
            self._files.delete(stored.key)
            action = "deleted"
        self._refuse(
            organisation_id,
            upload_id,
            verdict,
            detail=f"{action}; declared {stored.content_type}, {stored.size} bytes",
        )

    @staticmethod
    def _refuse(
        organisation_id: str, upload_id: str | None, verdict: ContentVerdict, *, detail: str
    ) -> NoReturn:
        reason = verdict.refusal.name if verdict.refusal else "unknown"
        logger.warning(
            "upload %s of organisation %s refused (%s): %r",
            upload_id or "request",
            organisation_id,
            reason,
            detail[:200],
        )
        raise FileRefused(verdict)


def archive_entries(attachments: Iterable[Attachment]) -> tuple[ArchiveEntry, ...]:
    """A case's files as zip entries, in upload order, with names made unique the way file
    managers do (`report.pdf`, `report (2).pdf`), ignoring case for Windows' sake."""
    taken: set[str] = set()
    entries = []
    for attachment in sorted(attachments, key=lambda a: (a.uploaded_at, a.id)):
        name = clean_display_name(attachment.display_name)
        stem, dot, extension = name.rpartition(".")
        if not dot or not stem:
            stem, extension = name, ""
        suffix = f".{extension}" if extension else ""
        number = 1
        while name.casefold() in taken:
            number += 1
            name = f"{stem} ({number}){suffix}"
        taken.add(name.casefold())
        entries.append(
            ArchiveEntry(
                name=name,
                storage_key=attachment.storage_key,
                size=attachment.size,
                modified_at=attachment.uploaded_at,
                compress=not is_compressed(attachment.content_type),
            )
        )
    return tuple(entries)


def _target_organisation(principal: Principal, requested: str | None) -> str:
    """The organisation a file belongs to: a client's own, always; the one staff name."""
    if principal.is_staff:
        if requested is None:
            raise InvalidInput("Name the client organisation this file is for.")
        organisation_id = requested
    elif principal.organisation_id is None:
        raise NotFound("No such organisation.")
    else:
        organisation_id = principal.organisation_id
    access.require(
        access.can_submit_case(principal, organisation_id),
        "Your role cannot upload files for this organisation.",
    )
    return organisation_id
