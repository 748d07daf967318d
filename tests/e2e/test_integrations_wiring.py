"""The external systems come from settings: each is off (the embedded default) until its
settings are given, refused clearly when they are half given, and its clients are closed with
the container."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from adapters.cognito import CognitoIdentityProvider
from adapters.local.case_system import PortalCaseSystem
from adapters.local.files import LocalDiskFileStore
from adapters.manual import ManualPaymentGateway
from adapters.memory import InMemoryIdentityProvider, InMemoryStorage
from adapters.s3 import S3FileStore
from adapters.salesforce import SalesforceCaseSystem
from adapters.stripe import StripePaymentGateway
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.settings import SettingsError
from tests.e2e.conftest import settings_for

SALESFORCE = {
    "salesforce_auth": "client_credentials",
    "salesforce_organization_id": "00D000000000001EAA",
    "salesforce_domain_url": "https://acme.my.salesforce.com",
    "salesforce_client_id": "3MVG9portal.client.id",
    "salesforce_client_secret": "client-secret-for-tests",
    "salesforce_event_secrets": "relay-secret",
}
STRIPE = {"stripe_secret_key": "sk_test_123", "stripe_webhook_secrets": "whsec_a, whsec_b"}
COGNITO = {
    "cognito_region": "eu-west-2",
    "cognito_user_pool_id": "eu-west-2_AbC123",
    "cognito_client_id": "portal-app-client",
}
S3 = {
    "s3_bucket": "portal-files",
    "s3_region": "eu-west-2",
    "s3_endpoint_url": "http://127.0.0.1:9",
}


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 clients are only made here, never called: no real AWS account is needed.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def container_with(tmp_path: Path, **variables: str) -> Container:
    return bootstrap(settings_for(tmp_path, **variables), uow=InMemoryStorage().unit_of_work)


def test_without_integration_settings_the_portal_is_its_own_case_system_and_bank(
    tmp_path: Path,
) -> None:
    container = container_with(tmp_path)
    try:
        assert isinstance(container.case_system, PortalCaseSystem)
        assert container.salesforce is None
        assert isinstance(container.payment_gateway, ManualPaymentGateway)
        assert container.token_verifier is None
        assert isinstance(container.files, LocalDiskFileStore)
    finally:
        container.close()


def test_every_integration_is_built_from_its_settings(tmp_path: Path) -> None:
    container = container_with(tmp_path, **SALESFORCE, **STRIPE, **COGNITO, **S3)
    try:
        assert container.salesforce is not None
        assert isinstance(container.case_system, SalesforceCaseSystem)
        assert container.case_system is container.salesforce.case_system
        assert container.settings.salesforce is not None
        assert container.settings.salesforce.event_secrets == ("relay-secret",)
        assert isinstance(container.payment_gateway, StripePaymentGateway)
        assert container.settings.stripe_webhook_secrets == ("whsec_a", "whsec_b")
        assert isinstance(container.token_verifier, CognitoIdentityProvider)
        assert isinstance(container.files, S3FileStore)
    finally:
        container.close()


def test_closing_the_container_closes_the_clients_it_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[httpx.Client] = []
    real_client = httpx.Client

    def recording_client(*args: object, **kwargs: object) -> httpx.Client:
        client = real_client(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(client)
        return client

    monkeypatch.setattr(httpx, "Client", recording_client)
    container = container_with(tmp_path, **SALESFORCE, **STRIPE, **COGNITO)
    assert len(opened) == 3  # Salesforce, Stripe, Cognito's signing keys
    assert not any(client.is_closed for client in opened)

    container.close()

    assert all(client.is_closed for client in opened)


def test_parts_passed_in_replace_what_the_settings_name(tmp_path: Path) -> None:
    verifier = InMemoryIdentityProvider()
    gateway = ManualPaymentGateway(base_url="https://portal.example")
    container = bootstrap(
        settings_for(tmp_path, **STRIPE, **COGNITO),
        uow=InMemoryStorage().unit_of_work,
        token_verifier=verifier,
        payment_gateway=gateway,
    )
    try:
        assert container.token_verifier is verifier
        assert container.payment_gateway is gateway
        assert container.payments is not None
    finally:
        container.close()


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"stripe_secret_key": "sk_test_123"}, "PORTAL_STRIPE_WEBHOOK_SECRETS"),
        ({"cognito_region": "eu-west-2"}, "PORTAL_COGNITO_USER_POOL_ID"),
        ({"salesforce_auth": "password"}, "PORTAL_SALESFORCE_AUTH"),
        ({"salesforce_auth": "client_credentials"}, "PORTAL_SALESFORCE_ORGANIZATION_ID"),
    ],
    ids=["stripe without webhook secret", "half of cognito", "unknown flow", "no org id"],
)
def test_half_given_integration_settings_stop_the_start_naming_the_variable(
    tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        settings_for(tmp_path, **variables)
