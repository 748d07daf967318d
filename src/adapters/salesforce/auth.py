"""OAuth 2.0 server-to-server flows for Salesforce, and the cached token.

- `JwtBearerAuth`: the connected app holds a certificate; the portal signs a short RS256 JWT
  (iss = consumer key, sub = username, aud = login URL) and trades it for an access token.
  No refresh token: a new assertion is made whenever a token is needed.
- `ClientCredentialsAuth`: the connected app's client id and secret, against the org's own
  My Domain URL; the org names the run-as user.

`TokenCache` keeps one token for every request and renews it when Salesforce says the session
is invalid (once per request: a second refusal is an error, not a loop).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
import jwt
from attrs import field, frozen

from adapters.salesforce.errors import SalesforceAuthError, SalesforceUnavailable

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 (a path, not a secret)


@frozen
class AccessToken:
    value: str = field(repr=False)
    instance_url: str
    issued_at: datetime


class SalesforceAuth(Protocol):
    def request_token(self, client: httpx.Client) -> AccessToken: ...


@frozen(kw_only=True)
class JwtBearerAuth:
    login_url: str
    """https://login.salesforce.com, https://test.salesforce.com (sandboxes) or the My Domain URL;
    also the JWT's audience."""
    consumer_key: str
    username: str
    private_key: str = field(repr=False)
    """The PEM of the key whose certificate the connected app holds."""
    lifetime: timedelta = timedelta(minutes=3)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)

    def assertion(self) -> str:
        expires = self.now() + self.lifetime
        claims = {
            "iss": self.consumer_key,
            "sub": self.username,
            "aud": self.login_url.rstrip("/"),
            "exp": int(expires.timestamp()),
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256")

    def request_token(self, client: httpx.Client) -> AccessToken:
        return _token_request(
            client,
            self.login_url.rstrip("/") + TOKEN_PATH,
            {"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion()},
        )


@frozen(kw_only=True)
class ClientCredentialsAuth:
    domain_url: str
    """The org's My Domain URL, e.g. https://acme.my.salesforce.com."""
    client_id: str
    client_secret: str = field(repr=False)

    def request_token(self, client: httpx.Client) -> AccessToken:
        return _token_request(
            client,
            self.domain_url.rstrip("/") + TOKEN_PATH,
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )


def _token_request(client: httpx.Client, url: str, form: dict[str, str]) -> AccessToken:
    try:
        response = client.post(url, data=form, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise SalesforceUnavailable(f"Salesforce's token endpoint is unreachable: {exc}") from exc
    if response.status_code >= 500:
        raise SalesforceUnavailable(f"Salesforce's token endpoint answered {response.status_code}.")
    body = _json(response)
    if response.status_code != 200 or "access_token" not in body:
        error = body.get("error", "unknown_error")
        description = body.get("error_description", "")
        raise SalesforceAuthError(
            f"Salesforce refused the token request ({response.status_code} {error}: {description})."
        )
    return AccessToken(
        value=str(body["access_token"]),
        instance_url=str(body["instance_url"]).rstrip("/"),
        issued_at=_issued_at(str(body.get("issued_at", "0"))),
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _issued_at(value: str) -> datetime:
    """`issued_at` is a string of digits, in milliseconds in practice; accept seconds too."""
    if not value.isdigit():
        return datetime.fromtimestamp(0, UTC)
    number = int(value)
    seconds = number / 1000 if number > 10**11 else number
    return datetime.fromtimestamp(seconds, UTC)


class TokenCache:
    """One token shared by every request of a process; renewed on demand, thread-safe."""

    def __init__(self, auth: SalesforceAuth) -> None:
        self._auth = auth
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.requests = 0
        """How many tokens were requested: for metrics and tests."""

    def get(self, client: httpx.Client) -> AccessToken:
        with self._lock:
            if self._token is None:
                self._token = self._auth.request_token(client)
                self.requests += 1
            return self._token

    def renew(self, client: httpx.Client, stale: AccessToken) -> AccessToken:
        """A new token unless another thread already replaced `stale`."""
        with self._lock:
            if self._token is None or self._token.value == stale.value:
                self._token = self._auth.request_token(client)
                self.requests += 1
            return self._token
