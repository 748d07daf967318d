"""Field mapping between the portal's cases and a firm's Salesforce Case object: configuration.

Every org names its statuses, priorities and custom fields its own way, so none of that is in
code: `SalesforceMapping` holds it, loaded from plain data (JSON, TOML) by `load_mapping`, and
`CaseRecordCodec` translates Salesforce records to and from the portal's values at the edge,
with a cattrs converter whose renames come from the mapping. The core never sees a vendor name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import cattrs
from attrs import asdict, field, frozen
from cattrs.gen import make_dict_structure_fn, override

from portal_core.cases.model import Case, CaseStatus, Priority
from portal_core.errors import InvalidInput
from portal_core.ports import ExternalCase

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")

DEFAULT_STATUSES: dict[CaseStatus, str] = {
    CaseStatus.NEW: "New",
    CaseStatus.IN_PROGRESS: "Working",
    CaseStatus.WAITING_ON_CLIENT: "Waiting on Client",
    CaseStatus.RESOLVED: "Resolved",
    CaseStatus.CLOSED: "Closed",
}
DEFAULT_STATUS_ALIASES: dict[str, CaseStatus] = {
    "Escalated": CaseStatus.IN_PROGRESS,
    "On Hold": CaseStatus.WAITING_ON_CLIENT,
}
DEFAULT_PRIORITIES: dict[Priority, str] = {
    Priority.LOW: "Low",
    Priority.NORMAL: "Medium",
    Priority.HIGH: "High",
    Priority.URGENT: "Critical",
}


def _statuses(value: Mapping[CaseStatus, str]) -> dict[CaseStatus, str]:
    return {CaseStatus(k): v for k, v in value.items()}


def _priorities(value: Mapping[Priority, str]) -> dict[Priority, str]:
    return {Priority(k): v for k, v in value.items()}


@frozen(kw_only=True)
class CaseFields:
    """API names of the Case fields the portal reads and writes."""

    subject: str = "Subject"
    description: str = "Description"
    status: str = "Status"
    priority: str = "Priority"
    account: str = "AccountId"
    """The lookup that links a case to the Account an organisation mirrors."""
    number: str = "CaseNumber"
    last_modified: str = "LastModifiedDate"
    last_modified_by: str = "LastModifiedById"
    portal_case_id: str = "Portal_Case_Id__c"
    """A Text field marked External ID and Unique: the portal's case id, so that creation is
    an upsert and a retried creation never makes a second case."""
    portal_reference: str | None = "Portal_Reference__c"
    """Optional: the portal's own reference (C-000123), shown to staff in Salesforce."""

    def __attrs_post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and not _API_NAME.match(value):
                raise InvalidInput(f"Case field {name} = {value!r} is not a Salesforce API name.")


@frozen(kw_only=True)
class FileReferenceObject:
    """Where file references go: a custom object with a lookup to Case (one row per file)."""

    object_name: str = "Portal_File__c"
    case_field: str = "Case__c"
    file_id_field: str = "Portal_File_Id__c"
    """External ID, Unique: the portal's attachment id, so a retried reference is no duplicate."""
    name_field: str = "Name"
    url_field: str = "Url__c"
    size_field: str | None = "Size__c"
    content_type_field: str | None = "Content_Type__c"


@frozen(kw_only=True)
class SalesforceMapping:
    fields: CaseFields = field(factory=CaseFields)
    statuses: dict[CaseStatus, str] = field(
        factory=lambda: dict(DEFAULT_STATUSES), converter=_statuses
    )
    """Portal status → Salesforce picklist value, used both ways."""
    status_aliases: dict[str, CaseStatus] = field(factory=lambda: dict(DEFAULT_STATUS_ALIASES))
    """Further Salesforce values and the portal status they mean (read only)."""
    priorities: dict[Priority, str] = field(
        factory=lambda: dict(DEFAULT_PRIORITIES), converter=_priorities
    )
    priority_aliases: dict[str, Priority] = field(factory=dict)
    origin: str | None = "Web"
    """The Case Origin value set on cases the portal creates (None: leave it to Salesforce)."""
    file_references: FileReferenceObject | None = field(factory=FileReferenceObject)
    """None when the org keeps no file references."""
    integration_user_id: str | None = None
    """The Salesforce user the portal signs in as: its changes are the portal's own echoes."""
    integration_client_id: str | None = None
    """The connected app's client id as change events name it (`changeOrigin` `client=`)."""

    def __attrs_post_init__(self) -> None:
        if set(self.statuses) != set(CaseStatus):
            raise InvalidInput("The status mapping must name a Salesforce value for every status.")
        if set(self.priorities) != set(Priority):
            raise InvalidInput("The priority mapping must name a Salesforce value for every one.")

    def status_from(self, value: str) -> CaseStatus:
        for status, name in self.statuses.items():
            if name == value:
                return status
        if value in self.status_aliases:
            return self.status_aliases[value]
        raise InvalidInput(f"Salesforce status {value!r} is not in the status mapping.")

    def priority_from(self, value: str) -> Priority:
        for priority, name in self.priorities.items():
            if name == value:
                return priority
        if value in self.priority_aliases:
            return self.priority_aliases[value]
        raise InvalidInput(f"Salesforce priority {value!r} is not in the priority mapping.")


_config = cattrs.Converter(forbid_extra_keys=True)


def load_mapping(raw: Mapping[str, Any]) -> SalesforceMapping:
    """A mapping from plain data (parsed JSON or TOML); unknown keys are refused, not ignored."""
    try:
        return _config.structure(dict(raw), SalesforceMapping)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        detail = (
            "; ".join(cattrs.transform_error(exc))
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise InvalidInput(f"The Salesforce mapping is not valid: {detail}") from exc


def dump_mapping(mapping: SalesforceMapping) -> dict[str, Any]:
    return _config.unstructure(mapping)  # type: ignore[no-any-return]


# --- records --------------------------------------------------------------------------------


def parse_datetime(value: str) -> datetime:
    """Salesforce datetimes (`2026-05-20T20:49:32.000+0000`, or with `Z`), timezone-aware UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not a Salesforce date and time.") from exc
    if parsed.tzinfo is None:
        raise InvalidInput(f"{value!r} carries no time zone.")
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """The SOQL literal for a time: `2026-05-20T20:49:32.000Z` (no quotes in SOQL)."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


@frozen(kw_only=True)
class CaseRecord:
    """A Salesforce Case as received, with the vendor's names translated; values still raw.

    Every field but the id may be missing: change events carry only what changed, and an
    outbound message only the fields chosen in its definition.
    """

    id: str
    number: str | None = None
    subject: str | None = None
    description: str | None = None
    status: str | None = None
    priority: str | None = None
    account_id: str | None = None
    last_modified: datetime | None = None
    last_modified_by: str | None = None
    portal_case_id: str | None = None


class CaseRecordCodec:
    """Salesforce Case JSON (or an outbound message's fields) ↔ portal values, per mapping."""

    def __init__(self, mapping: SalesforceMapping) -> None:
        self.mapping = mapping
        names = mapping.fields
        self._converter = cattrs.Converter()
        self._converter.register_structure_hook(datetime, lambda v, _: parse_datetime(str(v)))
        self._converter.register_structure_hook(
            CaseRecord,
            make_dict_structure_fn(
                CaseRecord,
                self._converter,
                id=override(rename="Id"),
                number=override(rename=names.number),
                subject=override(rename=names.subject),
                description=override(rename=names.description),
                status=override(rename=names.status),
                priority=override(rename=names.priority),
                account_id=override(rename=names.account),
                last_modified=override(rename=names.last_modified),
                last_modified_by=override(rename=names.last_modified_by),
                portal_case_id=override(rename=names.portal_case_id),
            ),
        )

    @property
    def read_fields(self) -> tuple[str, ...]:
        """The fields to SELECT or GET to read a whole case."""
        names = self.mapping.fields
        return (
            "Id",
            names.number,
            names.subject,
            names.description,
            names.status,
            names.priority,
            names.account,
            names.last_modified,
            names.last_modified_by,
            names.portal_case_id,
        )

    def record(self, data: Mapping[str, Any]) -> CaseRecord:
        """Translate one record; InvalidInput names what is wrong with it."""
        if not isinstance(data.get("Id"), str) or not data["Id"]:
            raise InvalidInput("A Salesforce case record needs its Id.")
        try:
            return self._converter.structure(
                {k: v for k, v in data.items() if v is not None}, CaseRecord
            )
        except cattrs.BaseValidationError as exc:
            detail = "; ".join(cattrs.transform_error(exc))
            raise InvalidInput(f"Salesforce case {data['Id']} is not readable: {detail}") from exc

    def external_case(self, record: CaseRecord) -> ExternalCase:
        """A whole case; InvalidInput names the first field the record lacks."""
        missing = [
            name
            for name, value in (
                (self.mapping.fields.number, record.number),
                (self.mapping.fields.status, record.status),
                (self.mapping.fields.last_modified, record.last_modified),
            )
            if value is None
        ]
        if missing:
            raise InvalidInput(f"Salesforce case {record.id} lacks {', '.join(missing)}.")
        assert record.number is not None
        assert record.status is not None
        assert record.last_modified is not None
        return ExternalCase(
            external_id=record.id,
            number=record.number,
            subject=record.subject or "",
            description=record.description or "",
            status=self.mapping.status_from(record.status),
            priority=(
                self.mapping.priority_from(record.priority) if record.priority else Priority.NORMAL
            ),
            account_id=record.account_id,
            last_modified=record.last_modified,
        )

    def is_portal_user(self, user_id: str | None) -> bool:
        expected = self.mapping.integration_user_id
        return expected is not None and user_id is not None and _same_id(user_id, expected)

    def create_body(self, case: Case, *, account_id: str | None) -> dict[str, Any]:
        """The fields of a new case (the external id goes in the URL of the upsert, not here)."""
        names = self.mapping.fields
        body: dict[str, Any] = {
            names.subject: case.subject,
            names.description: case.description,
            names.status: self.mapping.statuses[case.status],
            names.priority: self.mapping.priorities[case.priority],
        }
        if account_id is not None:
            body[names.account] = account_id
        if names.portal_reference is not None:
            body[names.portal_reference] = case.reference
        if self.mapping.origin is not None:
            body["Origin"] = self.mapping.origin
        return body

    def details_body(self, *, subject: str, description: str, priority: Priority) -> dict[str, Any]:
        names = self.mapping.fields
        return {
            names.subject: subject,
            names.description: description,
            names.priority: self.mapping.priorities[priority],
        }

    def status_body(self, status: CaseStatus) -> dict[str, Any]:
        return {self.mapping.fields.status: self.mapping.statuses[status]}


def _same_id(left: str, right: str) -> bool:
    """Salesforce ids come in 15-character (case-sensitive) and 18-character forms."""
    return left[:15] == right[:15]
