"""The external systems the settings name, built for the composition root.

    systems = open_external_systems(settings, uow=..., clock=..., ids=..., dispatcher=...)
    ...
    systems.close()

Each system falls back to the embedded default when its settings are absent:

| system         | on when                                   | otherwise                           |
| case system    | `PORTAL_SALESFORCE_AUTH` (Salesforce)     | `PortalCaseSystem` (own database)   |
| payments       | `PORTAL_STRIPE_SECRET_KEY` (Stripe)       | `ManualPaymentGateway` (transfers)  |
| bearer tokens  | `PORTAL_COGNITO_*` (Cognito)              | none: session cookies only          |
| files          | `PORTAL_S3_BUCKET` (S3)                   | the local disk store                |

Clients (httpx, boto3) are created here, when the container is built, never at import time,
and closed by `ExternalSystems.close()` (called from `Container.close()`). A part the caller
passes in (a test's fake) is used as it is and nothing is built for it. Adapters are imported
inside the builders so that a portal without Salesforce never loads its code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from attrs import frozen

from entrypoints.settings import Settings
from portal_core.dispatch import EventDispatcher
from portal_core.payments.ports import PaymentGateway
from portal_core.ports import (
    CaseSystem,
    Clock,
    FileStore,
    IdentityProvider,
    IdGenerator,
    UnitOfWorkFactory,
)

if TYPE_CHECKING:
    import httpx

    from adapters.salesforce import SalesforceWiring

SALESFORCE_TIMEOUT_SECONDS = 30.0
STRIPE_TIMEOUT_SECONDS = 10.0
JWKS_TIMEOUT_SECONDS = 10.0


@frozen(kw_only=True)
class ExternalSystems:
    case_system: CaseSystem
    salesforce: SalesforceWiring | None
    payment_gateway: PaymentGateway
    token_verifier: IdentityProvider | None
    files: FileStore | None
    """None: the caller's default (the local disk store)."""
    closers: tuple[Callable[[], None], ...] = ()

    def close(self) -> None:
        """Close every client opened for these systems (each once, the last opened first)."""
        for close in reversed(self.closers):
            close()


def open_external_systems(
    settings: Settings,
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    dispatcher: EventDispatcher,
    case_system: CaseSystem | None = None,
    salesforce: SalesforceWiring | None = None,
    payment_gateway: PaymentGateway | None = None,
    token_verifier: IdentityProvider | None = None,
    files: FileStore | None = None,
) -> ExternalSystems:
    """Build what `settings` name, except the parts passed in (None: from the settings)."""
    closers: list[Callable[[], None]] = []
    try:
        wiring = salesforce if salesforce is not None else _salesforce(settings, closers)
        if case_system is None:
            if wiring is not None:
                case_system = wiring.case_system
            else:
                from adapters.local.case_system import PortalCaseSystem  # noqa: PLC0415

                case_system = PortalCaseSystem(uow, clock=clock, ids=ids, dispatcher=dispatcher)
        if payment_gateway is None:
            payment_gateway = _payment_gateway(settings, closers)
        if token_verifier is None:
            token_verifier = _cognito(settings, closers)
        if files is None:
            files = _s3_files(settings, clock, closers)
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    return ExternalSystems(
        case_system=case_system,
        salesforce=wiring,
        payment_gateway=payment_gateway,
        token_verifier=token_verifier,
        files=files,
        closers=tuple(closers),
    )


def _http_client(timeout: float, closers: list[Callable[[], None]]) -> httpx.Client:
    import httpx  # noqa: PLC0415

    client = httpx.Client(timeout=timeout)
    closers.append(client.close)
    return client


def _salesforce(settings: Settings, closers: list[Callable[[], None]]) -> SalesforceWiring | None:
    if settings.salesforce is None:
        return None
    from adapters.salesforce import build_salesforce  # noqa: PLC0415

    return build_salesforce(settings.salesforce, _http_client(SALESFORCE_TIMEOUT_SECONDS, closers))


def _payment_gateway(settings: Settings, closers: list[Callable[[], None]]) -> PaymentGateway:
    if settings.stripe_secret_key is not None:
        from adapters.stripe import StripePaymentGateway  # noqa: PLC0415

        return StripePaymentGateway(
            _http_client(STRIPE_TIMEOUT_SECONDS, closers),
            secret_key=settings.stripe_secret_key,
            webhook_secrets=settings.stripe_webhook_secrets,
            api_base=settings.stripe_api_base,
        )
    from adapters.manual import ManualPaymentGateway  # noqa: PLC0415

    return ManualPaymentGateway(
        base_url=settings.base_url, webhook_secrets=settings.payment_notification_secrets
    )


def _cognito(settings: Settings, closers: list[Callable[[], None]]) -> IdentityProvider | None:
    if not (settings.cognito_region and settings.cognito_user_pool_id):
        return None
    assert settings.cognito_client_id is not None, "Settings requires all three"
    import boto3  # noqa: PLC0415

    from adapters.cognito import (  # noqa: PLC0415
        CognitoIdentityProvider,
        CognitoSettings,
        JwksKeys,
    )

    cognito_settings = CognitoSettings.for_pool(
        region=settings.cognito_region,
        user_pool_id=settings.cognito_user_pool_id,
        client_id=settings.cognito_client_id,
    )
    client = boto3.client("cognito-idp", region_name=settings.cognito_region)
    closers.append(client.close)
    keys = JwksKeys(_http_client(JWKS_TIMEOUT_SECONDS, closers), cognito_settings.jwks_url)
    return CognitoIdentityProvider(client, cognito_settings, keys)


def _s3_files(
    settings: Settings, clock: Clock, closers: list[Callable[[], None]]
) -> FileStore | None:
    if settings.s3_bucket is None:
        return None
    import boto3  # noqa: PLC0415

    from adapters.s3 import S3FileStore  # noqa: PLC0415

    client = boto3.client(
        "s3", region_name=settings.s3_region, endpoint_url=settings.s3_endpoint_url
    )
    closers.append(client.close)
    return S3FileStore(client, settings.s3_bucket, clock=clock)
