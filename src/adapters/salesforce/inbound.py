"""Framework-free handlers for the two inbound Salesforce routes; the web layer only forwards.

    reply = handle_outbound_message(raw_body, request_content_type, parser=..., sync=...)
    return Response(reply.body, status_code=reply.status, media_type=reply.content_type)

Acknowledgement comes only after `SyncService.apply` committed. What each outcome replies
(Salesforce retries every outbound message that is not acknowledged, for up to 24 hours; a
JSON relay is expected to retry 409 and 5xx, and to drop other 4xx):

| outcome                                           | outbound message (SOAP)     | change event (JSON) |
| applied, or all duplicates / stale                | 200 Ack                     | 200                 |
| not XML / not JSON content type                   | 415 fault Client            | 415                 |
| malformed, DTD or entity, unknown object type,    | 400 fault Client            | 400                 |
| missing field, unknown status value               |                             |                     |
| foreign OrganizationId (no side effect)           | 403 fault Client            | n/a (signature)     |
| case of an account no organisation is linked to   | 409 fault Server            | 409                 |
| concurrent change of the same case                | 409 fault Server            | 409                 |
| storage failure, Salesforce unreachable on re-read| 503 fault Server            | 503                 |
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from attrs import frozen

from adapters.salesforce.case_system import SalesforceCaseSystem
from adapters.salesforce.change_events import ChangeEventParser
from adapters.salesforce.mapping import CaseRecord, CaseRecordCodec
from adapters.salesforce.outbound_messages import (
    ACK,
    ForeignOrganisation,
    MalformedMessage,
    OutboundMessageParser,
    fault,
)
from portal_core.errors import ConcurrencyConflict, Conflict, InvalidInput
from portal_core.sync import (
    SOURCE_CHANGE_EVENT,
    InboundCaseChange,
    IncompleteChange,
    SyncResult,
    SyncService,
    UnknownAccount,
)

log = logging.getLogger(__name__)

XML_TYPES = frozenset({"text/xml", "application/soap+xml"})
JSON_TYPES = frozenset({"application/json"})


@frozen
class InboundReply:
    status: int
    content_type: str
    body: bytes


class _Refused(Exception):
    """An outcome that is replied to with an error; `status` and `client_error` say which."""

    def __init__(self, status: int, message: str, *, client_error: bool) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.client_error = client_error


def handle_outbound_message(
    body: bytes,
    content_type: str | None,
    *,
    parser: OutboundMessageParser,
    sync: SyncService,
    case_system: SalesforceCaseSystem | None = None,
) -> InboundReply:
    """Reply to one Salesforce outbound message. With `case_system`, new cases whose message
    lacks fields are re-read through the REST API instead of being refused."""
    soap = "text/xml; charset=utf-8"
    try:
        if _media_type(content_type) not in XML_TYPES:
            raise _Refused(415, "Outbound messages are text/xml.", client_error=True)
        try:
            message = parser.parse(body)
        except ForeignOrganisation as exc:
            raise _Refused(403, exc.message, client_error=True) from exc
        except MalformedMessage as exc:
            raise _Refused(400, exc.message, client_error=True) from exc
        result = _apply(sync, message.changes, case_system)
    except _Refused as refused:
        log.warning("outbound message refused (%d): %s", refused.status, refused.message)
        return InboundReply(
            refused.status, soap, fault(refused.message, client_error=refused.client_error)
        )
    log.info(
        "outbound message acknowledged: %d notifications, %d applied, %d imported, "
        "%d duplicates, %d stale",
        len(message.changes),
        result.applied,
        result.imported,
        result.duplicates,
        result.stale,
    )
    return InboundReply(200, soap, ACK)


def handle_change_event(
    body: bytes,
    content_type: str | None,
    *,
    parser: ChangeEventParser,
    sync: SyncService,
    case_system: SalesforceCaseSystem,
) -> InboundReply:
    """Reply to one change event (or a JSON array of them). The caller has verified the
    webhook signature over the raw body (`portal_core.sync.verify_signature`) beforehand."""
    try:
        if _media_type(content_type) not in JSON_TYPES:
            raise _Refused(415, "Change events are application/json.", client_error=True)
        try:
            batch = parser.parse(body)
        except MalformedMessage as exc:
            raise _Refused(400, exc.message, client_error=True) from exc
        changes = list(batch.changes)
        for reread in batch.rereads:
            record = _read(case_system, reread.external_id)
            if record is None:
                log.info("case %s no longer exists in Salesforce", reread.external_id)
                continue
            changes.append(
                change_from_record(
                    record,
                    codec=case_system.codec,
                    source=SOURCE_CHANGE_EVENT,
                    event_id=reread.event_id,
                )
            )
        result = _apply(sync, changes, case_system)
    except _Refused as refused:
        log.warning("change event refused (%d): %s", refused.status, refused.message)
        error = {"error": "refused", "message": refused.message}
        return InboundReply(refused.status, "application/json", json.dumps(error).encode())
    summary = {
        "applied": result.applied,
        "imported": result.imported,
        "duplicates": result.duplicates,
        "stale": result.stale,
        "unchanged": result.unchanged,
    }
    return InboundReply(200, "application/json", json.dumps(summary).encode())


def change_from_record(
    record: CaseRecord, *, codec: CaseRecordCodec, source: str, event_id: str
) -> InboundCaseChange:
    """A whole record read through the REST API, as a change (its version: LastModifiedDate)."""
    case = codec.external_case(record)
    return InboundCaseChange(
        source=source,
        event_id=event_id,
        external_id=case.external_id,
        modified_at=case.last_modified,
        account_id=case.account_id,
        number=case.number,
        subject=case.subject,
        description=case.description,
        status=case.status,
        priority=case.priority,
        portal_case_id=record.portal_case_id,
        from_portal=codec.is_portal_user(record.last_modified_by),
        whole_record=True,
    )


def _apply(
    sync: SyncService,
    changes: Sequence[InboundCaseChange],
    case_system: SalesforceCaseSystem | None,
) -> SyncResult:
    try:
        try:
            return sync.apply(changes)
        except IncompleteChange as incomplete:
            if case_system is None:
                raise _Refused(400, incomplete.message, client_error=True) from incomplete
            # Read the missing cases in full, outside any transaction, and apply once more.
            records = {rid: _read(case_system, rid) for rid in incomplete.external_ids}
            completed = [
                change_from_record(
                    record, codec=case_system.codec, source=c.source, event_id=c.event_id
                )
                if (record := records.get(c.external_id)) is not None
                else c
                for c in changes
                if c.external_id not in records or records[c.external_id] is not None
            ]
            return sync.apply(completed)
    except _Refused:
        raise
    except UnknownAccount as exc:
        raise _Refused(409, exc.message, client_error=False) from exc
    except IncompleteChange as exc:
        raise _Refused(400, exc.message, client_error=True) from exc
    except (ConcurrencyConflict, Conflict) as exc:
        raise _Refused(409, exc.message, client_error=False) from exc
    except InvalidInput as exc:  # a value the portal's rules refuse (e.g. an over-long text)
        raise _Refused(400, exc.message, client_error=True) from exc
    except Exception as exc:  # storage down, commit failed: never acknowledged, so retried
        log.exception("inbound Salesforce changes could not be stored")
        raise _Refused(
            503, "The changes could not be stored; please retry.", client_error=False
        ) from exc


def _read(case_system: SalesforceCaseSystem, external_id: str) -> CaseRecord | None:
    try:
        return case_system.fetch_record(external_id)
    except Exception as exc:  # Salesforce down or refusing: the sender retries later
        log.warning("could not re-read case %s from Salesforce: %s", external_id, exc)
        raise _Refused(
            503, f"Case {external_id} could not be re-read from Salesforce.", client_error=False
        ) from exc


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()
