"""The composition root: settings in, a container of wired services out.

The web app, the CLI and (later) the worker all call `bootstrap(settings)`. Tests call it with
overrides (`uow=InMemoryStorage().unit_of_work`, `clock=FixedClock()`, ...), so every entrypoint
runs on the same wiring that production uses, with only the named parts swapped.

Nothing here runs at import time: adapters are imported inside `bootstrap` so that, for example,
the CLI's `--help` never loads SQLAlchemy, and a test on the in-memory fakes never needs it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import frozen

from entrypoints.read_cache import ReadCache
from entrypoints.settings import Settings
from portal_core.billing.document import InvoiceRenderer, Party
from portal_core.billing.pdfs import InvoicePdfs
from portal_core.billing.service import BillingService
from portal_core.cases.service import CaseService
from portal_core.cases.uploads import FileLimits, FileService
from portal_core.dispatch import EventDispatcher
from portal_core.identity.ports import PasswordHasher, TokenGenerator, TotpVerifier
from portal_core.identity.service import SignInPolicy, SignInService
from portal_core.notifications import (
    LivePublishing,
    NotificationPreferenceRepository,
    NotificationPreferencesService,
)
from portal_core.organisations.service import OnboardingService
from portal_core.payments.ports import PaymentGateway
from portal_core.payments.reminders import ReminderService
from portal_core.payments.service import PaymentService
from portal_core.ports import (
    CaseSystem,
    Clock,
    FileStore,
    IdentityProvider,
    IdGenerator,
    Notifier,
    UnitOfWorkFactory,
)
from portal_core.sync import SyncService

if TYPE_CHECKING:
    from adapters.live import ChannelsPublisher
    from adapters.salesforce import SalesforceWiring
    from adapters.sql import SqlStorage
from entrypoints.integrations import ExternalSystems


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIds:
    """Random UUIDs (version 4), as text."""

    def new_id(self) -> str:
        return str(uuid.uuid4())


@frozen(kw_only=True)
class Container:
    """Everything an entrypoint needs, wired once. Services are safe to share between threads."""

    settings: Settings
    clock: Clock
    ids: IdGenerator
    uow: UnitOfWorkFactory
    files: FileStore
    dispatcher: EventDispatcher
    cases: CaseService
    uploads: FileService
    file_limits: FileLimits
    billing: BillingService
    sign_in: SignInService
    database: SqlStorage | None
    """The SQL storage, for schema commands and shutdown; None when `uow` was overridden."""
    token_verifier: IdentityProvider | None = None
    """Verifies `Authorization: Bearer` tokens (Cognito); None: only session cookies sign in."""
    onboarding: OnboardingService
    """Organisations and their contacts; invitations go through the local sign-in."""
    payments: PaymentService
    """Pay links and payment events, through `payment_gateway` (manual transfers by default)."""
    payment_gateway: PaymentGateway
    """Stripe when `PORTAL_STRIPE_SECRET_KEY` is set, else manual bank transfers."""
    reminders: ReminderService
    case_system: CaseSystem
    """Salesforce when `PORTAL_SALESFORCE_AUTH` is set, else the portal's own database."""
    sync: SyncService
    """Applies inbound changes from the case system (idempotent, one transaction a message)."""
    salesforce: SalesforceWiring | None = None
    """The Salesforce adapter's parsers and case system, for the webhooks, CLI and worker."""
    external: ExternalSystems | None = None
    """The clients opened for the external systems; closed by `close()`."""
    publisher: ChannelsPublisher
    """Live updates to open pages; the web app (or the worker) attaches its channels to it."""
    notifier: Notifier
    """E-mail: SMTP when `PORTAL_SMTP_HOST` is set, else `.eml` files in the local outbox."""
    notification_preferences: NotificationPreferencesService
    preference_store: NotificationPreferenceRepository
    worker_in_process: bool = False
    """Run the worker in a thread beside the web app (`portal serve` with
    `PORTAL_RUN_WORKER_IN_PROCESS`); tests and embedding hosts leave it off."""
    invoice_pdfs: InvoicePdfs
    """Renders, stores and serves issued invoices' and credit notes' PDFs."""
    reads: ReadCache
    """Answers of read-only routes, kept until the next commit (embedded database only)."""

    def prepare_storage(self) -> None:
        """Make the storage ready to serve: the embedded default migrates itself; production
        refuses to start on an old schema (run `portal db upgrade` as a release step)."""
        if self.database is None:
            return
        if self.settings.is_production:
            self.database.require_current_schema()
        else:
            self.database.upgrade()

    def close(self) -> None:
        if self.external is not None:
            self.external.close()
        if self.database is not None:
            self.database.dispose()


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    uow: UnitOfWorkFactory | None = None,
    files: FileStore | None = None,
    dispatcher: EventDispatcher | None = None,
    password_hasher: PasswordHasher | None = None,
    totp: TotpVerifier | None = None,
    tokens: TokenGenerator | None = None,
    token_verifier: IdentityProvider | None = None,
    payment_gateway: PaymentGateway | None = None,
    case_system: CaseSystem | None = None,
    salesforce: SalesforceWiring | None = None,
    notifier: Notifier | None = None,
    notification_preferences: NotificationPreferenceRepository | None = None,
    invoice_renderer: InvoiceRenderer | None = None,
) -> Container:
    """Wire the real adapters named by `settings`, except for the parts passed in."""
    clock = clock or SystemClock()
    ids = ids or UuidIds()
    dispatcher = dispatcher or EventDispatcher()
    database: SqlStorage | None = None
    if uow is None:
        database = _open_database(settings)
        uow = database.unit_of_work
    from entrypoints.integrations import open_external_systems  # noqa: PLC0415

    external = open_external_systems(
        settings,
        uow=uow,
        clock=clock,
        ids=ids,
        dispatcher=dispatcher,
        case_system=case_system,
        salesforce=salesforce,
        payment_gateway=payment_gateway,
        token_verifier=token_verifier,
        files=files,
    )
    files = external.files or _open_file_store(settings, clock)
    file_limits = FileLimits()
    if password_hasher is None or totp is None or tokens is None:
        from adapters.local.identity import (  # noqa: PLC0415 (argon2 and pyotp load on demand)
            Argon2PasswordHasher,
            PyotpTotpVerifier,
            SecretsTokenGenerator,
        )

        password_hasher = password_hasher or Argon2PasswordHasher()
        totp = totp or PyotpTotpVerifier()
        tokens = tokens or SecretsTokenGenerator()
    sign_in = SignInService(
        uow=uow,
        clock=clock,
        ids=ids,
        tokens=tokens,
        hasher=password_hasher,
        totp=totp,
        dispatcher=dispatcher,
        base_url=settings.base_url,
        policy=SignInPolicy(totp_issuer=f"{settings.firm_name} client portal"),
    )
    from adapters.local.identity import LocalIdentityProvider  # noqa: PLC0415

    billing = BillingService(
        uow=uow,
        clock=clock,
        ids=ids,
        dispatcher=dispatcher,
        time_zone=settings.firm_time_zone.key,
    )
    if invoice_renderer is None:
        from adapters.pdf import Fpdf2InvoiceRenderer  # noqa: PLC0415 (fpdf2 loads on demand)

        invoice_renderer = Fpdf2InvoiceRenderer()
    from adapters.live import ChannelsPublisher  # noqa: PLC0415

    publisher = ChannelsPublisher()
    LivePublishing(uow=uow, publisher=publisher).subscribe(dispatcher)
    preference_store = notification_preferences or _open_preferences(database)
    notifier = notifier or _open_notifier(settings)
    return Container(
        settings=settings,
        clock=clock,
        ids=ids,
        uow=uow,
        files=files,
        dispatcher=dispatcher,
        cases=CaseService(uow=uow, clock=clock, ids=ids, files=files, dispatcher=dispatcher),
        uploads=FileService(files=files, ids=ids, limits=file_limits),
        file_limits=file_limits,
        billing=billing,
        invoice_pdfs=InvoicePdfs(
            uow=uow,
            files=files,
            renderer=invoice_renderer,
            billing=billing,
            firm=Party(name=settings.firm_name),
        ),
        sign_in=sign_in,
        onboarding=OnboardingService(
            uow=uow,
            clock=clock,
            ids=ids,
            identity=token_verifier or LocalIdentityProvider(sign_in),
            dispatcher=dispatcher,
        ),
        payments=PaymentService(
            uow=uow,
            clock=clock,
            ids=ids,
            dispatcher=dispatcher,
            gateway=external.payment_gateway,
            time_zone=settings.firm_time_zone.key,
        ),
        payment_gateway=external.payment_gateway,
        reminders=ReminderService(
            uow=uow,
            clock=clock,
            ids=ids,
            dispatcher=dispatcher,
            time_zone=settings.firm_time_zone.key,
        ),
        case_system=external.case_system,
        sync=SyncService(uow=uow, clock=clock, ids=ids, dispatcher=dispatcher),
        salesforce=external.salesforce,
        external=external,
        database=database,
        token_verifier=external.token_verifier,
        publisher=publisher,
        notifier=notifier,
        notification_preferences=NotificationPreferencesService(preferences=preference_store),
        preference_store=preference_store,
        reads=ReadCache(database.commit_counter() if database is not None else None),
    )


def configure_logging(settings: Settings) -> None:
    """Process-wide logging for the entrypoints (the app itself configures none): JSON lines
    or readable lines (`PORTAL_LOG_FORMAT`) on stderr, with the request id of web requests."""
    from entrypoints.web.operations import log_handler  # noqa: PLC0415 (structlog on demand)

    root = logging.getLogger()
    if not root.handlers:  # like `logging.basicConfig`: a host that configured logging wins
        root.addHandler(log_handler(settings))
        root.setLevel(settings.log_level)
    # Alembic lists every plugin it loads at INFO; the migrations it runs are what matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _open_database(settings: Settings) -> SqlStorage:
    from adapters.sql import SqlStorage  # noqa: PLC0415 (keeps SQLAlchemy off the import path)

    storage = SqlStorage.from_url(settings.database_url)
    database_file = storage.engine.url.database
    if storage.is_embedded and database_file and database_file != ":memory:":
        # SQLite creates the file but not its directory (./var on a fresh clone).
        Path(database_file).parent.mkdir(parents=True, exist_ok=True)
    return storage


def _open_file_store(settings: Settings, clock: Clock) -> FileStore:
    from adapters.local.files import LocalDiskFileStore  # noqa: PLC0415

    return LocalDiskFileStore(
        settings.files_dir,
        secret=derived_key(settings, purpose="file links"),
        base_url=settings.base_url,
        clock=clock,
    )


def derived_key(settings: Settings, *, purpose: str) -> bytes:
    """A key for one purpose, derived from the secret key, so that a link-signing key can never
    sign a session (and the other way round)."""
    return hmac.new(settings.secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def _open_preferences(database: SqlStorage | None) -> NotificationPreferenceRepository:
    if database is None:  # a caller wired its own storage (tests, embedding hosts)
        from adapters.memory import InMemoryNotificationPreferences  # noqa: PLC0415

        return InMemoryNotificationPreferences()
    from adapters.sql.notifications import SqlNotificationPreferences  # noqa: PLC0415

    return SqlNotificationPreferences(database.engine)


def _open_notifier(settings: Settings) -> Notifier:
    from adapters.email import LocalOutboxNotifier, SmtpNotifier, SmtpSettings  # noqa: PLC0415

    if settings.smtp_host is None:
        outbox = settings.mail_outbox_dir or settings.data_dir / "outbox"
        return LocalOutboxNotifier(outbox, sender=settings.mail_from)
    return SmtpNotifier(
        SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.mail_from,
        )
    )
