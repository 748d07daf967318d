"""Salesforce settings from `PORTAL_SALESFORCE_*` variables, and the wiring they describe.

Read once by the composition root (`SalesforceSettings.from_env(os.environ)`); when
`PORTAL_SALESFORCE_AUTH` is unset, Salesforce is off and the portal's own database is the case
system. Variables (documented in docs/salesforce.md):

    PORTAL_SALESFORCE_AUTH              jwt | client_credentials
    PORTAL_SALESFORCE_ORGANIZATION_ID   the org's 15/18-character id (outbound messages)
    PORTAL_SALESFORCE_LOGIN_URL         jwt: https://login.salesforce.com (or test., or My Domain)
    PORTAL_SALESFORCE_CONSUMER_KEY      jwt: the connected app's consumer key
    PORTAL_SALESFORCE_USERNAME          jwt: the integration user's username
    PORTAL_SALESFORCE_PRIVATE_KEY_FILE  jwt: PEM file of the key the connected app's cert belongs to
    PORTAL_SALESFORCE_DOMAIN_URL        client_credentials: https://<my-domain>.my.salesforce.com
    PORTAL_SALESFORCE_CLIENT_ID         client_credentials
    PORTAL_SALESFORCE_CLIENT_SECRET     client_credentials
    PORTAL_SALESFORCE_API_VERSION       default 62.0
    PORTAL_SALESFORCE_MAPPING_FILE      JSON file of the field mapping (default mapping if unset)
    PORTAL_SALESFORCE_EVENT_SECRETS     comma-separated HMAC secrets of the change-event relay
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
from attrs import field, frozen

from adapters.salesforce.api import DEFAULT_API_VERSION, RetryPolicy, SalesforceApi
from adapters.salesforce.auth import ClientCredentialsAuth, JwtBearerAuth, SalesforceAuth
from adapters.salesforce.case_system import SalesforceCaseSystem
from adapters.salesforce.change_events import ChangeEventParser
from adapters.salesforce.mapping import SalesforceMapping, load_mapping
from adapters.salesforce.outbound_messages import OutboundMessageParser

PREFIX = "PORTAL_SALESFORCE_"


class SalesforceSettingsError(ValueError):
    """A Salesforce setting is missing or wrong; the message names the variable."""


class AuthFlow(enum.StrEnum):
    JWT = "jwt"
    CLIENT_CREDENTIALS = "client_credentials"


@frozen(kw_only=True)
class SalesforceSettings:
    auth: AuthFlow
    organization_id: str
    api_version: str = DEFAULT_API_VERSION
    login_url: str | None = None
    consumer_key: str | None = None
    username: str | None = None
    private_key: str | None = field(default=None, repr=False)
    domain_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    mapping: SalesforceMapping = field(factory=SalesforceMapping)
    event_secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SalesforceSettings | None:
        """The settings, or None when Salesforce is not configured (`..._AUTH` unset)."""

        def read(name: str) -> str | None:
            return environ.get(PREFIX + name, "").strip() or None

        def need(name: str) -> str:
            value = read(name)
            if value is None:
                raise SalesforceSettingsError(f"{PREFIX}{name} is required for Salesforce.")
            return value

        flow = read("AUTH")
        if flow is None:
            return None
        try:
            auth = AuthFlow(flow)
        except ValueError as exc:
            raise SalesforceSettingsError(
                f"{PREFIX}AUTH is 'jwt' or 'client_credentials', not {flow!r}."
            ) from exc
        organization_id = need("ORGANIZATION_ID")
        if len(organization_id) not in (15, 18) or not organization_id.isalnum():
            raise SalesforceSettingsError(f"{PREFIX}ORGANIZATION_ID is 15 or 18 letters/digits.")
        mapping_file = read("MAPPING_FILE")
        mapping = SalesforceMapping()
        if mapping_file is not None:
            try:
                raw = json.loads(Path(mapping_file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SalesforceSettingsError(
                    f"{PREFIX}MAPPING_FILE {mapping_file} is not a readable JSON file: {exc}"
                ) from exc
            mapping = load_mapping(raw)
        secrets = tuple(s.strip() for s in (read("EVENT_SECRETS") or "").split(",") if s.strip())
        common = {
            "auth": auth,
            "organization_id": organization_id,
            "api_version": read("API_VERSION") or DEFAULT_API_VERSION,
            "mapping": mapping,
            "event_secrets": secrets,
        }
        if auth is AuthFlow.JWT:
            key_file = need("PRIVATE_KEY_FILE")
            try:
                private_key = Path(key_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise SalesforceSettingsError(
                    f"{PREFIX}PRIVATE_KEY_FILE {key_file} cannot be read."
                ) from exc
            return cls(
                login_url=need("LOGIN_URL"),
                consumer_key=need("CONSUMER_KEY"),
                username=need("USERNAME"),
                private_key=private_key,
                **common,  # type: ignore[arg-type]
            )
        return cls(
            domain_url=need("DOMAIN_URL"),
            client_id=need("CLIENT_ID"),
            client_secret=need("CLIENT_SECRET"),
            **common,  # type: ignore[arg-type]
        )

    def authenticator(self) -> SalesforceAuth:
        if self.auth is AuthFlow.JWT:
            assert self.login_url
            assert self.consumer_key
            assert self.username
            assert self.private_key
            return JwtBearerAuth(
                login_url=self.login_url,
                consumer_key=self.consumer_key,
                username=self.username,
                private_key=self.private_key,
            )
        assert self.domain_url
        assert self.client_id
        assert self.client_secret
        return ClientCredentialsAuth(
            domain_url=self.domain_url, client_id=self.client_id, client_secret=self.client_secret
        )


@frozen
class SalesforceWiring:
    """What the composition root hands to the web routes, the CLI and the worker."""

    case_system: SalesforceCaseSystem
    outbound_messages: OutboundMessageParser
    change_events: ChangeEventParser


def build_salesforce(
    settings: SalesforceSettings,
    client: httpx.Client,
    *,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
    auth: SalesforceAuth | None = None,
) -> SalesforceWiring:
    """Wire the adapter on `client` (owned and closed by the caller)."""
    api = SalesforceApi(
        client,
        auth or settings.authenticator(),
        api_version=settings.api_version,
        retry=retry,
        **({"sleep": sleep} if sleep is not None else {}),
    )
    case_system = SalesforceCaseSystem(api, settings.mapping)
    return SalesforceWiring(
        case_system=case_system,
        outbound_messages=OutboundMessageParser(
            organization_id=settings.organization_id, codec=case_system.codec
        ),
        change_events=ChangeEventParser(codec=case_system.codec),
    )
