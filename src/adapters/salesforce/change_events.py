"""Salesforce change data capture events (JSON), relayed to the portal by a signed webhook.

Accepts one event `{schema, payload: {ChangeEventHeader, <changed fields>}, event: {replayId}}`
or a JSON array of them (applied together). Only `Case` events; one change per id in
`recordIds`; the version is `commitTimestamp` (epoch milliseconds); `changeOrigin`'s
`client=<id>` or `commitUser` equal to the portal's own names the portal's echo. GAP_* and
UNDELETE events carry no usable values: they ask for the record to be re-read (`rereads`).
DELETE events are logged and left alone: the portal keeps the client's history.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from attrs import frozen

from adapters.salesforce.mapping import CaseRecordCodec
from adapters.salesforce.outbound_messages import MalformedMessage
from portal_core.errors import InvalidInput
from portal_core.sync import SOURCE_CHANGE_EVENT, InboundCaseChange

MAX_EVENTS = 1_000
MAX_BODY_BYTES = 4_000_000
APPLIED_TYPES = frozenset({"CREATE", "UPDATE"})
REREAD_TYPES = frozenset(
    {"UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"}
)
IGNORED_TYPES = frozenset({"DELETE"})
_CLIENT = re.compile(r"(?:^|;)client=([^;]+)")

log = logging.getLogger(__name__)


@frozen(kw_only=True)
class Reread:
    """A record to read again through the REST API, applied under this event id."""

    event_id: str
    external_id: str


@frozen(kw_only=True)
class ChangeEventBatch:
    changes: tuple[InboundCaseChange, ...]
    rereads: tuple[Reread, ...]


class ChangeEventParser:
    def __init__(self, *, codec: CaseRecordCodec) -> None:
        self._codec = codec

    def parse(self, body: bytes) -> ChangeEventBatch:
        if len(body) > MAX_BODY_BYTES:
            raise MalformedMessage("The request is larger than any change event batch can be.")
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedMessage(f"The request is not valid JSON ({exc}).") from exc
        except RecursionError as exc:
            raise MalformedMessage("The request nests JSON too deeply.") from exc
        events = document if isinstance(document, list) else [document]
        if not 1 <= len(events) <= MAX_EVENTS:
            raise MalformedMessage(f"A request holds 1 to {MAX_EVENTS} change events.")
        changes: list[InboundCaseChange] = []
        rereads: list[Reread] = []
        for event in events:
            self._event(event, changes, rereads)
        return ChangeEventBatch(changes=tuple(changes), rereads=tuple(rereads))

    def _event(
        self, event: object, changes: list[InboundCaseChange], rereads: list[Reread]
    ) -> None:
        if not isinstance(event, dict) or not isinstance(event.get("payload"), dict):
            raise MalformedMessage("A change event is an object with a payload.")
        payload: dict[str, Any] = event["payload"]
        header = payload.get("ChangeEventHeader")
        if not isinstance(header, dict):
            raise MalformedMessage("A change event's payload has no ChangeEventHeader.")
        entity = header.get("entityName")
        if entity != "Case":
            raise MalformedMessage(
                f"A change event for {entity!r} arrived; only Case events are accepted."
            )
        change_type = _required_text(header, "changeType")
        record_ids = header.get("recordIds")
        if (
            not isinstance(record_ids, list)
            or not record_ids
            or not all(isinstance(i, str) and i for i in record_ids)
        ):
            raise MalformedMessage("A change event names its records in a recordIds list.")
        key = _event_key(event, header)
        if change_type in IGNORED_TYPES:
            log.info("Salesforce deleted case(s) %s; the portal keeps its copy", record_ids)
            return
        if change_type in REREAD_TYPES:
            rereads.extend(Reread(event_id=f"{key}:{rid}", external_id=rid) for rid in record_ids)
            return
        if change_type not in APPLIED_TYPES:
            raise MalformedMessage(f"Change type {change_type!r} is not a Salesforce change type.")
        committed = _commit_time(header)
        from_portal = self._from_portal(header)
        values = {k: v for k, v in payload.items() if k != "ChangeEventHeader"}
        for record_id in record_ids:
            try:
                record = self._codec.record({**values, "Id": record_id})
                mapping = self._codec.mapping
                changes.append(
                    InboundCaseChange(
                        source=SOURCE_CHANGE_EVENT,
                        event_id=f"{key}:{record_id}",
                        external_id=record_id,
                        modified_at=committed,
                        account_id=record.account_id,
                        number=record.number,
                        subject=record.subject,
                        description=record.description,
                        status=mapping.status_from(record.status) if record.status else None,
                        priority=mapping.priority_from(record.priority)
                        if record.priority
                        else None,
                        portal_case_id=record.portal_case_id,
                        from_portal=from_portal,
                    )
                )
            except InvalidInput as exc:
                raise MalformedMessage(f"Change event {key}: {exc.message}") from exc

    def _from_portal(self, header: Mapping[str, Any]) -> bool:
        mapping = self._codec.mapping
        origin = header.get("changeOrigin")
        match = _CLIENT.search(origin) if isinstance(origin, str) else None
        if match and mapping.integration_client_id and match[1] == mapping.integration_client_id:
            return True
        user = header.get("commitUser")
        return self._codec.is_portal_user(user if isinstance(user, str) else None)


def _event_key(event: Mapping[str, Any], header: Mapping[str, Any]) -> str:
    """A stable id for one change: transaction key and sequence number, else the replay id."""
    transaction = header.get("transactionKey")
    sequence = header.get("sequenceNumber")
    if isinstance(transaction, str) and transaction and isinstance(sequence, int):
        return f"{transaction}:{sequence}"
    replay = (
        event.get("event", {}).get("replayId") if isinstance(event.get("event"), dict) else None
    )
    if isinstance(replay, (str, int)) and str(replay):
        return f"replay:{replay}"
    raise MalformedMessage(
        "A change event has neither transactionKey and sequenceNumber nor replayId."
    )


def _commit_time(header: Mapping[str, Any]) -> datetime:
    value = header.get("commitTimestamp")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise MalformedMessage("A change event's commitTimestamp is epoch milliseconds.")
    return datetime.fromtimestamp(value / 1000, UTC)


def _required_text(header: Mapping[str, Any], name: str) -> str:
    value = header.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedMessage(f"A change event's header lacks {name}.")
    return value
