"""Salesforce as the case system of record, over the REST API (`CaseSystem` port).

Creation is an upsert on the portal's case id (`PATCH /sobjects/Case/<ExternalIdField>/<id>`),
preceded by a read of that same key: a retried creation finds the case it made the first time
and returns it unchanged, so neither a second case nor an overwrite of what staff changed in
between can happen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from attrs import frozen

from adapters.salesforce.api import ApiUsage, SalesforceApi
from adapters.salesforce.errors import SalesforceError
from adapters.salesforce.mapping import (
    CaseRecord,
    CaseRecordCodec,
    SalesforceMapping,
    format_datetime,
)
from portal_core.cases.model import Case, CaseStatus, Priority
from portal_core.errors import InvalidInput, NotFound
from portal_core.ports import ExternalCase

_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_NOT_FOUND_CODES = frozenset({"NOT_FOUND", "INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED"})


@frozen
class QueryPage:
    records: tuple[CaseRecord, ...]
    total: int | None
    """How many records the whole query matched (`totalSize`)."""


def require_record_id(value: str) -> str:
    """A Salesforce id (15 or 18 letters and digits): nothing else goes into a URL path."""
    if not _RECORD_ID.match(value):
        raise NotFound(f"{value!r} is not a Salesforce record id.")
    return value


class SalesforceCaseSystem:
    def __init__(self, api: SalesforceApi, mapping: SalesforceMapping) -> None:
        self._api = api
        self.mapping = mapping
        self.codec = CaseRecordCodec(mapping)

    @property
    def api_usage(self) -> ApiUsage | None:
        """The org's API usage as of the latest answer (`Sforce-Limit-Info`)."""
        return self._api.usage

    # --- CaseSystem -----------------------------------------------------------------------

    def create_case(self, case: Case, *, account_id: str | None) -> ExternalCase:
        key_path = self._api.data_path(
            f"sobjects/Case/{self.mapping.fields.portal_case_id}/{quote(case.id, safe='')}"
        )
        existing = self._api.request("GET", key_path, params=self._fields(), allow=(404,))
        if existing.status_code == 200:
            return self.codec.external_case(self.codec.record(existing.json()))
        created = self._api.request(
            "PATCH", key_path, json=self.codec.create_body(case, account_id=account_id)
        )
        # 201 created; 200 or 204 (older API versions) if it existed after all.
        record_id = _json(created).get("id")
        if isinstance(record_id, str):
            found = self.fetch(record_id)
        else:
            again = self._api.request("GET", key_path, params=self._fields())
            found = self.codec.external_case(self.codec.record(again.json()))
        if found is None:
            raise SalesforceError(404, [])
        return found

    def update_status(self, external_id: str, status: CaseStatus) -> None:
        path = self._api.data_path(f"sobjects/Case/{require_record_id(external_id)}")
        self._not_found_guard(
            lambda: self._api.request("PATCH", path, json=self.codec.status_body(status)),
            external_id,
        )

    def update_details(
        self, external_id: str, *, subject: str, description: str, priority: Priority
    ) -> None:
        path = self._api.data_path(f"sobjects/Case/{require_record_id(external_id)}")
        body = self.codec.details_body(subject=subject, description=description, priority=priority)
        self._not_found_guard(lambda: self._api.request("PATCH", path, json=body), external_id)

    def add_public_comment(self, external_id: str, body: str) -> None:
        comment = {
            "ParentId": require_record_id(external_id),
            "CommentBody": body,
            "IsPublished": True,
        }
        path = self._api.data_path("sobjects/CaseComment/")
        self._not_found_guard(lambda: self._api.request("POST", path, json=comment), external_id)

    def fetch(self, external_id: str) -> ExternalCase | None:
        record = self.fetch_record(external_id)
        return None if record is None else self.codec.external_case(record)

    def changed_since(self, since: datetime) -> Iterator[ExternalCase]:
        for page in self.changed_pages(since):
            for record in page.records:
                yield self.codec.external_case(record)

    # --- beyond the port --------------------------------------------------------------------

    def fetch_record(self, external_id: str) -> CaseRecord | None:
        """The whole record, with the fields sync needs beyond `ExternalCase` (who changed it)."""
        try:
            record_id = require_record_id(external_id)
        except NotFound:
            return None
        path = self._api.data_path(f"sobjects/Case/{record_id}")
        response = self._api.request("GET", path, params=self._fields(), allow=(404,))
        if response.status_code == 404:
            return None
        return self.codec.record(response.json())

    def changed_pages(self, since: datetime) -> Iterator[QueryPage]:
        """Cases changed at or after `since`, oldest first, one query page (≤ 2,000) at a time."""
        fields = self.mapping.fields
        # Field names are checked API names (CaseFields), the time a formatted literal.
        soql = " ".join(
            [
                "SELECT",
                ", ".join(self.codec.read_fields),
                "FROM Case WHERE",
                fields.last_modified,
                ">=",
                format_datetime(since),
                "ORDER BY",
                fields.last_modified,
                "ASC, Id ASC",
            ]
        )
        response = self._api.request("GET", self._api.data_path("query/"), params={"q": soql})
        while True:
            body = _json(response)
            records = body.get("records")
            if not isinstance(records, list):
                raise InvalidInput("Salesforce's query answer holds no records list.")
            total = body.get("totalSize")
            yield QueryPage(
                records=tuple(self.codec.record(item) for item in records),
                total=total if isinstance(total, int) else None,
            )
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not isinstance(next_url, str):
                return
            if not next_url.startswith("/services/data/"):
                raise InvalidInput("Salesforce's nextRecordsUrl points outside the API.")
            response = self._api.request("GET", next_url)

    def attach_file_reference(
        self,
        external_id: str,
        *,
        file_id: str,
        name: str,
        url: str,
        size: int,
        content_type: str,
    ) -> None:
        """Upsert one row of the configured file-reference object, keyed by the portal's file id."""
        target = self.mapping.file_references
        if target is None:
            raise InvalidInput("No file-reference object is configured for Salesforce.")
        body: dict[str, Any] = {
            target.case_field: require_record_id(external_id),
            target.name_field: name[:80],
            target.url_field: url,
        }
        if target.size_field is not None:
            body[target.size_field] = size
        if target.content_type_field is not None:
            body[target.content_type_field] = content_type
        path = self._api.data_path(
            f"sobjects/{target.object_name}/{target.file_id_field}/{quote(file_id, safe='')}"
        )
        self._not_found_guard(lambda: self._api.request("PATCH", path, json=body), external_id)

    # --- helpers ----------------------------------------------------------------------------

    def _fields(self) -> dict[str, str]:
        return {"fields": ",".join(self.codec.read_fields)}

    @staticmethod
    def _not_found_guard(call: Callable[[], object], external_id: str) -> None:
        try:
            call()
        except SalesforceError as exc:
            if exc.status == 404 or exc.error_code in _NOT_FOUND_CODES:
                raise NotFound(f"No case {external_id} in Salesforce.") from exc
            raise


def _json(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
