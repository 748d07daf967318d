"""The REST API transport: token, retries, error bodies and the API usage Salesforce reports.

- 401 `INVALID_SESSION_ID`: the token expired; a new one is fetched and the request sent once
  more. A second refusal is an error.
- 403 `REQUEST_LIMIT_EXCEEDED`, any 5xx, and transport errors: retried with exponential
  back-off and jitter (tenacity), a few times only; beyond that `SalesforceUnavailable` is
  raised and the outbox retries later, with its own longer back-off.
- Other 4xx: `SalesforceError` with Salesforce's `errorCode`s; retrying cannot help.
- Every answer's `Sforce-Limit-Info: api-usage=<used>/<limit>` is kept as `usage`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from attrs import frozen
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from adapters.salesforce.auth import AccessToken, SalesforceAuth, TokenCache
from adapters.salesforce.errors import ApiError, SalesforceError, SalesforceUnavailable

log = logging.getLogger(__name__)

DEFAULT_API_VERSION = "62.0"
LIMIT_HEADER = "Sforce-Limit-Info"
USAGE_WARNING = 0.9
"""Share of the org's daily API limit at which a warning is logged (once per crossing)."""
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


@frozen
class ApiUsage:
    """The org's API requests used in the last 24 hours, of its limit."""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def fraction_used(self) -> float:
        return self.used / self.limit if self.limit else 1.0

    @classmethod
    def from_header(cls, value: str | None) -> ApiUsage | None:
        match = _USAGE.search(value or "")
        return cls(int(match[1]), int(match[2])) if match else None


@frozen(kw_only=True)
class RetryPolicy:
    """In-request retries; bounded, because the outbox retries beyond them."""

    attempts: int = 4
    initial_wait: float = 0.5
    max_wait: float = 8.0


class _Transient(Exception):
    """Worth another try within this request."""


class SalesforceApi:
    def __init__(
        self,
        client: httpx.Client,
        auth: SalesforceAuth,
        *,
        api_version: str = DEFAULT_API_VERSION,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.tokens = TokenCache(auth)
        self.api_version = api_version
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._usage: ApiUsage | None = None
        self._usage_lock = threading.Lock()

    @property
    def usage(self) -> ApiUsage | None:
        """The latest `Sforce-Limit-Info` seen, None before the first answer."""
        return self._usage

    def data_path(self, path: str) -> str:
        return f"/services/data/v{self.api_version}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send with retries. `path` starts with `/services/`; statuses in `allow` are returned
        as they are (e.g. 404 for a lookup) instead of raising."""
        retrying = Retrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=wait_exponential(multiplier=self._retry.initial_wait, max=self._retry.max_wait)
            + wait_random(0, self._retry.initial_wait),
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._send(method, path, json=json, params=params, allow=allow)
        except RetryError as exc:
            reason = exc.last_attempt.exception()
            raise SalesforceUnavailable(
                f"Salesforce did not take {method} {_redact(path)} after "
                f"{self._retry.attempts} attempts: {reason}"
            ) from reason
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        allow: tuple[int, ...],
    ) -> httpx.Response:
        token = self.tokens.get(self._client)
        response = self._once(token, method, path, json=json, params=params)
        if response.status_code == 401 and _codes(response) & {"INVALID_SESSION_ID"}:
            log.info("Salesforce session expired; renewing the token once")
            token = self.tokens.renew(self._client, token)
            response = self._once(token, method, path, json=json, params=params)
        status = response.status_code
        if status in allow or status < 300:
            return response
        if (status == 403 and "REQUEST_LIMIT_EXCEEDED" in _codes(response)) or status >= 500:
            errors = _errors(response)
            detail = errors[0].error_code if errors else str(status)
            log.warning("Salesforce answered %d (%s); backing off", status, detail)
            raise _Transient(f"{status} {detail}")
        raise SalesforceError(status, _errors(response))

    def _once(
        self,
        token: AccessToken,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
    ) -> httpx.Response:
        try:
            response = self._client.request(
                method,
                token.instance_url + path,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {token.value}", "Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        usage = ApiUsage.from_header(response.headers.get(LIMIT_HEADER))
        if usage is not None:
            with self._usage_lock:
                before, self._usage = self._usage, usage
            crossed = before is None or before.fraction_used < USAGE_WARNING
            if crossed and usage.fraction_used >= USAGE_WARNING:
                log.warning(
                    "Salesforce API usage at %d of %d requests (24 hours)", usage.used, usage.limit
                )
        return response


def _errors(response: httpx.Response) -> list[ApiError]:
    try:
        body = response.json()
    except ValueError:
        return []
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        return []
    return [
        ApiError(
            error_code=str(item.get("errorCode", "UNKNOWN")),
            message=str(item.get("message", "")),
            fields=tuple(str(f) for f in item.get("fields") or ()),
        )
        for item in body
        if isinstance(item, dict)
    ]


def _codes(response: httpx.Response) -> set[str]:
    return {e.error_code for e in _errors(response)}


def _redact(path: str) -> str:
    """A path for a log line: the query string (SOQL) left out."""
    return path.split("?", 1)[0]
