"""Fixtures for the Salesforce adapter on the emulator; imported by the conftests that use them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from attrs import frozen
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.memory import FixedClock
from adapters.salesforce import (
    JwtBearerAuth,
    RetryPolicy,
    SalesforceApi,
    SalesforceCaseSystem,
    SalesforceMapping,
)
from tests.contract.salesforce.emulator import (
    INTEGRATION_USER_ID,
    LOGIN_URL,
    SalesforceEmulator,
)

CONSUMER_KEY = "3MVG9portal.consumer.key"
USERNAME = "portal-integration@acme.example"
CLIENT_ID = "3MVG9portal.client.id"
CLIENT_SECRET = "client-secret-for-tests"
START = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)


@frozen
class KeyPair:
    private_pem: str
    public_pem: str


@pytest.fixture(scope="session")
def key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private, public)


class TickingClock(FixedClock):
    """Every reading is one second after the last: each Salesforce change has its own time."""

    def now(self) -> datetime:
        self.advance(timedelta(seconds=1))
        return super().now()


@pytest.fixture
def sf_clock() -> TickingClock:
    return TickingClock(START)


@pytest.fixture
def emulator(key_pair: KeyPair, sf_clock: TickingClock) -> SalesforceEmulator:
    return SalesforceEmulator(
        now=sf_clock.now,
        consumer_key=CONSUMER_KEY,
        username=USERNAME,
        public_key_pem=key_pair.public_pem,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        page_size=3,
    )


@pytest.fixture
def sf_http(emulator: SalesforceEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=emulator.transport()) as client:
        yield client


@pytest.fixture
def sleeps() -> list[float]:
    """The back-off waits the adapter asked for (nobody actually sleeps in tests)."""
    return []


@pytest.fixture
def jwt_auth(key_pair: KeyPair) -> JwtBearerAuth:
    return JwtBearerAuth(
        login_url=LOGIN_URL,
        consumer_key=CONSUMER_KEY,
        username=USERNAME,
        private_key=key_pair.private_pem,
        now=lambda: datetime.now(UTC),
    )


@pytest.fixture
def sf_api(sf_http: httpx.Client, jwt_auth: JwtBearerAuth, sleeps: list[float]) -> SalesforceApi:
    return SalesforceApi(
        sf_http,
        jwt_auth,
        retry=RetryPolicy(attempts=4, initial_wait=0.5, max_wait=8),
        sleep=sleeps.append,
    )


@pytest.fixture
def salesforce(sf_api: SalesforceApi) -> SalesforceCaseSystem:
    return SalesforceCaseSystem(sf_api, SalesforceMapping(integration_user_id=INTEGRATION_USER_ID))
