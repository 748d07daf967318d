"""A Salesforce org in a box, for `httpx.MockTransport`: built from the documented wire formats.

OAuth token endpoint (JWT bearer, checked against the connected app's certificate key, and
client credentials), sObject Case create / upsert by external id / read / patch, CaseComment
and file-reference creation, SOQL queries paged through `nextRecordsUrl`, JSON error arrays,
`Sforce-Limit-Info` on every data answer, and switches for an outage (503), an exhausted API
limit (403 REQUEST_LIMIT_EXCEEDED) and expired sessions (401 INVALID_SESSION_ID).
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt

API_VERSION = "62.0"
INSTANCE_URL = "https://acme.my.salesforce.com"
LOGIN_URL = "https://login.salesforce.com"
ORGANIZATION_ID = "00D000000000001EAA"
STAFF_USER_ID = "005000000000STAFFA"
INTEGRATION_USER_ID = "005000000000PORTAL"
CASE_FIELDS = frozenset(
    {
        "Id",
        "CaseNumber",
        "Subject",
        "Description",
        "Status",
        "Priority",
        "Origin",
        "AccountId",
        "ContactId",
        "IsClosed",
        "CreatedDate",
        "LastModifiedDate",
        "LastModifiedById",
        "Portal_Case_Id__c",
        "Portal_Reference__c",
    }
)
READ_ONLY = frozenset(
    {"Id", "CaseNumber", "IsClosed", "CreatedDate", "LastModifiedDate", "LastModifiedById"}
)
EXTERNAL_ID_FIELDS = {"Case": "Portal_Case_Id__c", "Portal_File__c": "Portal_File_Id__c"}
_SOQL = re.compile(
    r"^SELECT (?P<fields>[\w, ]+) FROM Case WHERE LastModifiedDate >= "
    r"(?P<since>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ORDER BY LastModifiedDate ASC, Id ASC$"
)


def sf_datetime(value: datetime) -> str:
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}+0000"
    )


def errors(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json=[{"message": message, "errorCode": code}])


class SalesforceEmulator:
    def __init__(
        self,
        *,
        now: Callable[[], datetime],
        consumer_key: str,
        username: str,
        public_key_pem: str,
        client_id: str,
        client_secret: str,
        page_size: int = 2000,
        api_limit: int = 15000,
    ) -> None:
        self._now = now
        self._consumer_key = consumer_key
        self._username = username
        self._public_key = public_key_pem
        self._client_id = client_id
        self._client_secret = client_secret
        self.page_size = page_size
        self.api_limit = api_limit
        self.api_used = 0
        self.records: dict[str, dict[str, dict[str, Any]]] = {
            "Case": {},
            "CaseComment": {},
            "Portal_File__c": {},
        }
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.outage = 0
        """Answer this many data requests with 503."""
        self.limit_exceeded = 0
        """Answer this many data requests with 403 REQUEST_LIMIT_EXCEEDED."""
        self.requests: list[httpx.Request] = []
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._numbers = itertools.count(1000)
        self._ids = itertools.count(1)

    # --- switches and staff actions ---------------------------------------------------------

    def expire_sessions(self) -> None:
        self.tokens.clear()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def staff_update(self, case_id: str, **fields: Any) -> dict[str, Any]:
        """A change made by a member of staff in Salesforce."""
        record = self.records["Case"][case_id]
        record.update(fields)
        record["LastModifiedDate"] = sf_datetime(self._now())
        record["LastModifiedById"] = STAFF_USER_ID
        return dict(record)

    def staff_create(self, **fields: Any) -> dict[str, Any]:
        return self._insert(
            "Case", {"Status": "New", "Priority": "Medium", **fields}, STAFF_USER_ID
        )

    def cases(self) -> list[dict[str, Any]]:
        return list(self.records["Case"].values())

    # --- the HTTP side ----------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/services/oauth2/token" and request.method == "POST":
            return self._token(request)
        prefix = f"/services/data/v{API_VERSION}/"
        if not path.startswith(prefix) or request.url.host != httpx.URL(INSTANCE_URL).host:
            return errors(404, "NOT_FOUND", "The requested resource does not exist")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
            return errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.outage:
            self.outage -= 1
            return errors(503, "SERVER_UNAVAILABLE", "Service temporarily unavailable")
        if self.limit_exceeded:
            self.limit_exceeded -= 1
            return errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.api_used += 1
        response = self._data(request, path.removeprefix(prefix).rstrip("/").split("/"))
        response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.api_limit}"
        return response

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    self._public_key,
                    algorithms=["RS256"],
                    audience=LOGIN_URL,
                    options={"require": ["exp", "iss", "sub", "aud"]},
                )
            except jwt.PyJWTError as exc:
                return httpx.Response(
                    400, json={"error": "invalid_grant", "error_description": str(exc)}
                )
            if claims["iss"] != self._consumer_key or claims["sub"] != self._username:
                return httpx.Response(
                    400,
                    json={
                        "error": "invalid_client_id",
                        "error_description": "client identifier invalid",
                    },
                )
        elif grant == "client_credentials":
            if (
                form.get("client_id") != self._client_id
                or form.get("client_secret") != self._client_secret
            ):
                return httpx.Response(
                    400,
                    json={
                        "error": "invalid_client",
                        "error_description": "invalid client credentials",
                    },
                )
        else:
            return httpx.Response(
                400,
                json={
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        token = f"{ORGANIZATION_ID}!{secrets.token_urlsafe(24)}"
        self.tokens.add(token)
        self.tokens_issued += 1
        return httpx.Response(
            200,
            json={
                "access_token": token,
                "instance_url": INSTANCE_URL,
                "id": f"{LOGIN_URL}/id/{ORGANIZATION_ID}/{INTEGRATION_USER_ID}",
                "token_type": "Bearer",
                "issued_at": str(int(self._now().timestamp() * 1000)),
                "signature": "c2lnbmF0dXJl",
            },
        )

    def _data(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        method = request.method
        if parts[0] == "query":
            if len(parts) == 2:
                return self._next_page(parts[1])
            return self._query(request.url.params.get("q", ""))
        if parts[0] != "sobjects" or len(parts) < 2 or parts[1] not in self.records:
            return errors(404, "NOT_FOUND", "The requested resource does not exist")
        sobject = parts[1]
        body = json.loads(request.content) if request.content else {}
        if len(parts) == 2 and method == "POST":
            return self._create(sobject, body)
        if len(parts) == 3:
            record = self.records[sobject].get(parts[2])
            if record is None:
                return errors(404, "NOT_FOUND", "The requested resource does not exist")
            if method == "GET":
                return httpx.Response(200, json=self._view(sobject, record, request))
            if method == "PATCH":
                problem = self._check_fields(sobject, body)
                if problem:
                    return problem
                record.update(body)
                record["LastModifiedDate"] = sf_datetime(self._now())
                record["LastModifiedById"] = INTEGRATION_USER_ID
                return httpx.Response(204)
        if len(parts) == 4:
            field, value = parts[2], parts[3]
            if EXTERNAL_ID_FIELDS.get(sobject) != field:
                return errors(
                    400,
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {field}",
                )
            matches = [r for r in self.records[sobject].values() if r.get(field) == value]
            if method == "GET":
                if not matches:
                    return errors(404, "NOT_FOUND", "The requested resource does not exist")
                return httpx.Response(200, json=self._view(sobject, matches[0], request))
            if method == "PATCH":
                if field in body:
                    return errors(
                        400, "INVALID_FIELD", f"{field} is the external id; it goes in the URL"
                    )
                problem = self._check_fields(sobject, body)
                if problem:
                    return problem
                if matches:
                    matches[0].update(body)
                    matches[0]["LastModifiedDate"] = sf_datetime(self._now())
                    return httpx.Response(
                        200,
                        json={
                            "id": matches[0]["Id"],
                            "success": True,
                            "errors": [],
                            "created": False,
                        },
                    )
                created = self._insert(sobject, {**body, field: value}, INTEGRATION_USER_ID)
                return httpx.Response(
                    201, json={"id": created["Id"], "success": True, "errors": [], "created": True}
                )
        return errors(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")

    def _create(self, sobject: str, body: dict[str, Any]) -> httpx.Response:
        if "Id" in body:
            return errors(
                400, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: Id."
            )
        if sobject == "CaseComment" and body.get("ParentId") not in self.records["Case"]:
            return errors(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        problem = self._check_fields(sobject, body)
        if problem:
            return problem
        created = self._insert(sobject, body, INTEGRATION_USER_ID)
        return httpx.Response(201, json={"id": created["Id"], "success": True, "errors": []})

    def _insert(self, sobject: str, fields: dict[str, Any], user: str) -> dict[str, Any]:
        prefix = {"Case": "500", "CaseComment": "00a", "Portal_File__c": "a01"}[sobject]
        record_id = f"{prefix}{next(self._ids):012d}AAA"
        now = sf_datetime(self._now())
        record = {
            "Id": record_id,
            **fields,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "LastModifiedById": user,
        }
        if sobject == "Case":
            record["CaseNumber"] = f"{next(self._numbers):08d}"
        if sobject == "Portal_File__c" and record.get("Case__c") not in self.records["Case"]:
            raise AssertionError("a file reference must point at an existing case")
        self.records[sobject][record_id] = record
        return record

    def _check_fields(self, sobject: str, body: dict[str, Any]) -> httpx.Response | None:
        if sobject != "Case":
            return None
        unknown = [name for name in body if name not in CASE_FIELDS]
        if unknown:
            return errors(
                400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type Case"
            )
        read_only = [name for name in body if name in READ_ONLY]
        if read_only:
            return errors(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {read_only[0]}.",
            )
        return None

    def _view(self, sobject: str, record: dict[str, Any], request: httpx.Request) -> dict[str, Any]:
        wanted = request.url.params.get("fields")
        names = wanted.split(",") if wanted else list(record)
        view: dict[str, Any] = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{API_VERSION}/sobjects/{sobject}/{record['Id']}",
            }
        }
        for name in names:
            view[name] = record.get(name)
        return view

    def _query(self, soql: str) -> httpx.Response:
        match = _SOQL.match(soql)
        if match is None:
            return errors(400, "MALFORMED_QUERY", "unexpected token")
        fields = [f.strip() for f in match["fields"].split(",")]
        unknown = [f for f in fields if f not in CASE_FIELDS]
        if unknown:
            return errors(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity 'Case'")
        since = match["since"].replace("Z", "+0000")
        rows = sorted(
            (r for r in self.records["Case"].values() if r["LastModifiedDate"] >= since),
            key=lambda r: (r["LastModifiedDate"], r["Id"]),
        )
        selected = [
            {
                "attributes": {
                    "type": "Case",
                    "url": f"/services/data/v{API_VERSION}/sobjects/Case/{r['Id']}",
                }
            }
            | {f: r.get(f) for f in fields}
            for r in rows
        ]
        cursor = f"01g{secrets.token_hex(6)}"
        self._cursors[cursor] = selected
        return self._page(cursor, 0)

    def _next_page(self, locator: str) -> httpx.Response:
        cursor, _, offset = locator.partition("-")
        if cursor not in self._cursors or not offset.isdigit():
            return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, int(offset))

    def _page(self, cursor: str, offset: int) -> httpx.Response:
        rows = self._cursors[cursor]
        page = rows[offset : offset + self.page_size]
        done = offset + self.page_size >= len(rows)
        body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": page}
        if not done:
            body["nextRecordsUrl"] = (
                f"/services/data/v{API_VERSION}/query/{cursor}-{offset + self.page_size}"
            )
        return httpx.Response(200, json=body)
