"""Settings: everything the portal needs to know about its deployment, from `PORTAL_*` variables.

Read once, explicitly, by `Settings.from_env(os.environ)` in an entrypoint; nothing here reads
the environment at import time. Every field is documented in docs/settings.md (a test checks).

Two environments:
- `embedded` (the default): one process on a laptop or a small server. Everything has a
  default under the data directory (./var): SQLite, files on local disk, a generated secret key.
- `production`: nothing secret or site-specific is guessed; missing settings stop the start.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import field, frozen

if TYPE_CHECKING:
    from adapters.salesforce import SalesforceSettings

PREFIX = "PORTAL_"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)
MIN_SECRET_KEY_LENGTH = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("json", "console")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_TIME_ZONE = "Europe/London"
DEFAULT_FIRM_NAME = "Harbour Lane Advisers"
"""The demo firm of the embedded default; production must name the real firm."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """A setting is missing or wrong. The message names the variable and what it expects."""


class Environment(enum.StrEnum):
    EMBEDDED = "embedded"
    PRODUCTION = "production"


@frozen(kw_only=True)
class Settings:
    environment: Environment = Environment.EMBEDDED
    data_dir: Path
    """Where the embedded default keeps its database, files and secret key (absolute)."""
    database_url: str
    files_dir: Path
    secret_key: str = field(repr=False)
    """Signs sessions, CSRF tokens and file links. Never logged, never in a repr."""
    base_url: str
    """The address people use to reach the portal, without a trailing slash."""
    allowed_hosts: tuple[str, ...]
    demo_data: bool
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    firm_name: str = DEFAULT_FIRM_NAME
    firm_time_zone: ZoneInfo = field(factory=lambda: ZoneInfo(DEFAULT_TIME_ZONE))
    log_level: str = "INFO"
    live_backend: str = "memory"
    """Fans live updates out: `memory` (one process), `postgres` (LISTEN/NOTIFY) or `redis`."""
    redis_url: str | None = None
    run_worker_in_process: bool = True
    """`portal serve` also delivers the outbox and runs the schedules (the embedded default)."""
    worker_interval_seconds: int = 2
    mail_from: str = "Client portal <portal@localhost>"
    smtp_host: str | None = None
    """Set: e-mail goes to this SMTP server; unset: to `.eml` files in `mail_outbox_dir`."""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    mail_outbox_dir: Path | None = None
    salesforce: SalesforceSettings | None = None
    """Salesforce as the case system (`PORTAL_SALESFORCE_*`); None: the portal's own database."""
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    """Stripe's endpoint signing secrets (`whsec_...`); old and new together while rotating."""
    stripe_api_base: str = "https://api.stripe.com"
    payment_notification_secrets: tuple[str, ...] = field(default=(), repr=False)
    """Secrets of the manual gateway's signed payment notifications (bank feeds)."""
    cognito_region: str | None = None
    cognito_user_pool_id: str | None = None
    cognito_client_id: str | None = None
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    """An S3-compatible endpoint (MinIO, a test server); unset: AWS's own for the region."""
    log_format: str = "console"
    """`json` (one object a line, production's default) or `console` (readable)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks whose `X-Forwarded-For` names the client; nobody else's is read."""
    rate_limit_per_minute: int = 600
    sign_in_rate_limit_per_minute: int = 10
    max_request_bytes: int = 1_000_000
    """Largest request body in bytes; file uploads have their own limit."""
    metrics_token: str | None = field(default=None, repr=False)
    """Bearer token for `/metrics` (Prometheus); admins may read it signed in."""

    @property
    def uses_stripe(self) -> bool:
        return self.stripe_secret_key is not None

    @property
    def uses_cognito(self) -> bool:
        return self.cognito_user_pool_id is not None

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, cwd: Path | None = None) -> Settings:
        """Settings from `PORTAL_*` variables; relative paths are resolved against `cwd`.

        In the embedded environment a missing secret key is generated once and kept in
        `<data_dir>/secret_key` (mode 0600), so sessions survive a restart.
        """
        read = _Reader(environ)
        base = (cwd or Path.cwd()).resolve()
        environment = read.choice("ENVIRONMENT", Environment, Environment.EMBEDDED)
        production = environment is Environment.PRODUCTION

        data_dir = _absolute(read.text("DATA_DIR") or "var", base)
        database_url = _database_url(read.text("DATABASE_URL"), data_dir, base)
        files_dir = _absolute(read.text("FILES_DIR") or str(data_dir / "files"), base)
        host = read.text("HOST") or DEFAULT_HOST
        port = read.port("PORT", DEFAULT_PORT)

        base_url = read.text("BASE_URL")
        if base_url is None:
            if production:
                raise SettingsError(
                    "PORTAL_BASE_URL is required in production: the https:// address "
                    "people use to reach the portal."
                )
            base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
        base_url = _base_url(base_url, production=production)

        allowed_hosts = read.names("ALLOWED_HOSTS")
        if not allowed_hosts:
            own = urlsplit(base_url).hostname or host
            allowed_hosts = (
                (own,) if production else tuple(dict.fromkeys((own, "127.0.0.1", "localhost")))
            )

        secret_key = read.text("SECRET_KEY")
        if secret_key is None:
            if production:
                raise SettingsError(
                    "PORTAL_SECRET_KEY is required in production: at least "
                    f"{MIN_SECRET_KEY_LENGTH} random characters (e.g. `python -c "
                    "'import secrets; print(secrets.token_urlsafe(48))'`)."
                )
            secret_key = _embedded_secret_key(data_dir / SECRET_KEY_FILE)
        if len(secret_key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                f"PORTAL_SECRET_KEY is too short: use at least {MIN_SECRET_KEY_LENGTH} characters."
            )

        firm_name = read.text("FIRM_NAME")
        if firm_name is None and production:
            raise SettingsError("PORTAL_FIRM_NAME is required in production: the firm's name.")

        stripe_secret_key = read.text("STRIPE_SECRET_KEY")
        stripe_webhook_secrets = read.names("STRIPE_WEBHOOK_SECRETS")
        if stripe_secret_key is not None and not stripe_webhook_secrets:
            raise SettingsError(
                "PORTAL_STRIPE_WEBHOOK_SECRETS is required with PORTAL_STRIPE_SECRET_KEY: the "
                "webhook endpoint's signing secret (whsec_...), comma-separated while rotating."
            )
        cognito = {name: read.text(f"COGNITO_{name.upper()}") for name in _COGNITO}
        if any(cognito.values()) and not all(cognito.values()):
            missing = ", ".join(f"PORTAL_COGNITO_{n.upper()}" for n, v in cognito.items() if not v)
            raise SettingsError(f"Cognito needs {missing} as well.")

        return cls(
            environment=environment,
            data_dir=data_dir,
            database_url=database_url,
            files_dir=files_dir,
            secret_key=secret_key,
            base_url=base_url,
            allowed_hosts=allowed_hosts,
            demo_data=read.flag("DEMO_DATA", default=not production),
            host=host,
            port=port,
            firm_name=firm_name or DEFAULT_FIRM_NAME,
            firm_time_zone=read.time_zone("FIRM_TIME_ZONE", DEFAULT_TIME_ZONE),
            log_level=read.log_level("LOG_LEVEL", "INFO"),
            **_delivery(read, data_dir=data_dir, database_url=database_url, production=production),
            salesforce=_salesforce(environ),
            stripe_secret_key=stripe_secret_key,
            stripe_webhook_secrets=stripe_webhook_secrets,
            stripe_api_base=read.text("STRIPE_API_BASE") or "https://api.stripe.com",
            payment_notification_secrets=read.names("PAYMENT_NOTIFICATION_SECRETS"),
            cognito_region=cognito["region"],
            cognito_user_pool_id=cognito["user_pool_id"],
            cognito_client_id=cognito["client_id"],
            s3_bucket=read.text("S3_BUCKET"),
            s3_region=read.text("S3_REGION"),
            s3_endpoint_url=read.text("S3_ENDPOINT_URL"),
            log_format=read.log_format("LOG_FORMAT", "json" if production else "console"),
            trusted_proxies=read.networks("TRUSTED_PROXIES", "127.0.0.1,::1" if production else ""),
            rate_limit_per_minute=read.count("RATE_LIMIT_PER_MINUTE", 600),
            sign_in_rate_limit_per_minute=read.count("SIGN_IN_RATE_LIMIT_PER_MINUTE", 10),
            max_request_bytes=read.count("MAX_REQUEST_BYTES", 1_000_000, minimum=1024),
            metrics_token=read.text("METRICS_TOKEN"),
        )


class _Reader:
    """Reads `PORTAL_<NAME>` values; blank values count as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str) -> str | None:
        value = self._environ.get(PREFIX + name, "").strip()
        return value or None

    def choice(self, name: str, kind: type[Environment], default: Environment) -> Environment:
        value = self.text(name)
        if value is None:
            return default
        try:
            return kind(value.lower())
        except ValueError:
            allowed = " or ".join(member.value for member in kind)
            raise SettingsError(f"{PREFIX}{name} must be {allowed}, not {value!r}.") from None

    def flag(self, name: str, *, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise SettingsError(f"{PREFIX}{name} must be true or false, not {value!r}.")

    def port(self, name: str, default: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise SettingsError(f"{PREFIX}{name} must be a port number (1-65535), not {value!r}.")
        return int(value)

    def names(self, name: str) -> tuple[str, ...]:
        value = self.text(name) or ""
        return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))

    def count(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self.text(name)
        if value is None:
            return default
        if not value.isdigit() or int(value) < minimum:
            raise SettingsError(
                f"{PREFIX}{name} must be a whole number of at least {minimum}, not {value!r}."
            )
        return int(value)

    def networks(self, name: str, default: str) -> tuple[str, ...]:
        """Comma-separated IP addresses or CIDR networks, checked, kept as written."""
        value = self.text(name)
        parts = (value if value is not None else default).split(",")
        networks = tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise SettingsError(
                    f"{PREFIX}{name} must list IP addresses or networks such as 10.0.0.0/8, "
                    f"not {network!r}."
                ) from None
        return networks

    def log_format(self, name: str, default: str) -> str:
        value = (self.text(name) or default).lower()
        if value not in LOG_FORMATS:
            raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(LOG_FORMATS)}.")
        return value

    def time_zone(self, name: str, default: str) -> ZoneInfo:
        value = self.text(name) or default
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"{PREFIX}{name} must be an IANA time zone such as Europe/London, not {value!r}."
            ) from None

    def log_level(self, name: str, default: str) -> str:
        value = (self.text(name) or default).upper()
        if value not in LOG_LEVELS:
            raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(LOG_LEVELS)}.")
        return value


_COGNITO = ("region", "user_pool_id", "client_id")


def _salesforce(environ: Mapping[str, str]) -> SalesforceSettings | None:
    if not environ.get(PREFIX + "SALESFORCE_AUTH", "").strip():
        return None
    # Imported only when Salesforce is configured: httpx and the adapter load on demand.
    from adapters.salesforce import (  # noqa: PLC0415
        SalesforceSettings,
        SalesforceSettingsError,
    )

    try:
        return SalesforceSettings.from_env(environ)
    except SalesforceSettingsError as exc:
        raise SettingsError(str(exc)) from exc


def _absolute(path: str, base: Path) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def _database_url(value: str | None, data_dir: Path, base: Path) -> str:
    if value is None:
        return f"sqlite:///{data_dir / 'portal.db'}"
    scheme, _, rest = value.partition(":///")
    # `sqlite:///var/portal.db` means a path relative to the working directory; make it
    # absolute so the database does not move when the process starts elsewhere.
    if scheme.startswith("sqlite") and rest and not rest.startswith("/") and rest != ":memory:":
        return f"{scheme}:///{base / rest}"
    return value


def _base_url(value: str, *, production: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"PORTAL_BASE_URL must be an http(s) address, not {value!r}.")
    if production and parts.scheme != "https":
        raise SettingsError("PORTAL_BASE_URL must start with https:// in production.")
    return value.rstrip("/")


def _embedded_secret_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        # O_EXCL: when two processes start at once, exactly one key wins and both use it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


LIVE_BACKENDS = ("memory", "postgres", "redis")
SMTP_SECURITY = ("starttls", "tls", "none")


def _one_of(read: _Reader, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (read.text(name) or default).lower()
    if value not in allowed:
        raise SettingsError(f"{PREFIX}{name} must be {' or '.join(allowed)}, not {value!r}.")
    return value


class _Delivery(TypedDict):
    live_backend: str
    redis_url: str | None
    run_worker_in_process: bool
    worker_interval_seconds: int
    mail_from: str
    smtp_host: str | None
    smtp_port: int
    smtp_security: str
    smtp_username: str | None
    smtp_password: str | None
    mail_outbox_dir: Path


def _delivery(read: _Reader, *, data_dir: Path, database_url: str, production: bool) -> _Delivery:
    """Live updates, e-mail and the worker (docs/live-updates.md, docs/notifications.md)."""
    live_backend = _one_of(read, "LIVE_BACKEND", LIVE_BACKENDS, "memory")
    redis_url = read.text("REDIS_URL")
    if live_backend == "redis" and redis_url is None:
        raise SettingsError(
            "PORTAL_REDIS_URL is required with PORTAL_LIVE_BACKEND=redis "
            "(for example redis://127.0.0.1:6379/0)."
        )
    if live_backend == "postgres" and not database_url.startswith("postgresql"):
        raise SettingsError(
            "PORTAL_LIVE_BACKEND=postgres shares the PostgreSQL database of PORTAL_DATABASE_URL; "
            "the database is not PostgreSQL."
        )
    interval = read.text("WORKER_INTERVAL_SECONDS") or "2"
    if not interval.isdigit() or not 1 <= int(interval) <= 3600:
        raise SettingsError(
            f"PORTAL_WORKER_INTERVAL_SECONDS must be 1 to 3600 seconds, not {interval!r}."
        )
    smtp_host = read.text("SMTP_HOST")
    smtp_username = read.text("SMTP_USERNAME")
    smtp_password = read.text("SMTP_PASSWORD")
    if (smtp_username is None) != (smtp_password is None):
        raise SettingsError("PORTAL_SMTP_USERNAME and PORTAL_SMTP_PASSWORD go together.")
    mail_from = read.text("MAIL_FROM")
    if smtp_host is not None and mail_from is None:
        raise SettingsError(
            "PORTAL_MAIL_FROM is required with PORTAL_SMTP_HOST: the sender address, such as "
            "'Example Partners <portal@example.com>'."
        )
    outbox = read.text("MAIL_OUTBOX_DIR")
    return _Delivery(
        live_backend=live_backend,
        redis_url=redis_url,
        run_worker_in_process=read.flag("RUN_WORKER_IN_PROCESS", default=not production),
        worker_interval_seconds=int(interval),
        mail_from=mail_from or "Client portal <portal@localhost>",
        smtp_host=smtp_host,
        smtp_port=read.port("SMTP_PORT", 587),
        smtp_security=_one_of(read, "SMTP_SECURITY", SMTP_SECURITY, "starttls"),
        smtp_username=smtp_username,
        smtp_password=smtp_password,
        mail_outbox_dir=_absolute(outbox, data_dir) if outbox else data_dir / "outbox",
    )
