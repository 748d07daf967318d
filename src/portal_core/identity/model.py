"""Sign-in state: sessions, one-time links, credentials and recorded sign-in attempts.

Secrets never sit here in the clear. A session or a one-time link is known to the browser by
a random token; the portal keeps only the token's SHA-256 (`token_digest`), so a copy of the
database opens no session and follows no link. Password hashes and TOTP secrets are kept out
of every `repr`, so that no log line or traceback carries them.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime, timedelta

from attrs import evolve, field, frozen

from portal_core.errors import InvalidInput

TOUCH_INTERVAL = timedelta(minutes=1)
"""A session's last-seen time is written at most this often: reads stay reads."""


def token_digest(token: str) -> str:
    """The SHA-256 of a token, lowercase hex: what is stored and looked up instead of it."""
    return hashlib.sha256(token.encode()).hexdigest()


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("Times must be timezone-aware.")


@frozen(kw_only=True)
class Session:
    """A signed-in browser. It ends at sign-out, after `idle_timeout` without a request, or
    `absolute_lifetime` after sign-in, whichever comes first."""

    token_digest: str
    user_id: str
    created_at: datetime
    last_seen_at: datetime
    idle_timeout: timedelta
    absolute_lifetime: timedelta
    second_factor_done: bool
    """Whether a TOTP code was checked at this sign-in."""

    def __attrs_post_init__(self) -> None:
        _require_aware(self.created_at)
        _require_aware(self.last_seen_at)
        if self.idle_timeout <= timedelta(0) or self.absolute_lifetime <= timedelta(0):
            raise InvalidInput("Session lifetimes must be positive.")

    @property
    def expires_at(self) -> datetime:
        return min(self.last_seen_at + self.idle_timeout, self.created_at + self.absolute_lifetime)

    def is_live(self, now: datetime) -> bool:
        return now < self.expires_at

    def seen(self, now: datetime) -> Session:
        """The session as of a request at `now` (the idle timeout counts from here)."""
        return evolve(self, last_seen_at=max(now, self.last_seen_at))

    def needs_touch(self, now: datetime) -> bool:
        return now - self.last_seen_at >= TOUCH_INTERVAL


class TokenPurpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a secret)


@frozen(kw_only=True)
class OneTimeToken:
    """A link sent by e-mail that works once, before `expires_at`, for one purpose."""

    token_digest: str
    purpose: TokenPurpose
    user_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def __attrs_post_init__(self) -> None:
        _require_aware(self.created_at)
        _require_aware(self.expires_at)
        if self.expires_at <= self.created_at:
            raise InvalidInput("A link must expire after it is made.")

    def is_usable(self, purpose: TokenPurpose, now: datetime) -> bool:
        return self.purpose is purpose and self.used_at is None and now < self.expires_at


@frozen(kw_only=True)
class Credential:
    """What proves a user's identity. A user invited but not yet signed up has none."""

    user_id: str
    password_hash: str | None = field(default=None, repr=False)
    password_changed_at: datetime | None = None
    totp_secret: str | None = field(default=None, repr=False)
    """The confirmed second factor; while set, sign-in needs a code."""
    totp_pending_secret: str | None = field(default=None, repr=False)
    """A secret being enrolled: it counts only once a code from it is confirmed."""
    totp_last_step: int | None = None
    """The TOTP time step of the last code accepted: no code of that step or earlier again."""

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def has_second_factor(self) -> bool:
        return self.totp_secret is not None


class AttemptOutcome(enum.StrEnum):
    FAILED = "failed"
    SUCCEEDED = "succeeded"


@frozen(kw_only=True)
class SignInAttempt:
    """A sign-in whose password was checked. Throttled requests are refused unchecked and
    unrecorded: they cannot extend an attacker's budget, nor be counted as evaluated."""

    id: str
    account_key: str
    """The e-mail address as typed, case-folded, whether or not such a user exists."""
    client_address: str
    at: datetime
    outcome: AttemptOutcome


def account_key(email: str) -> str:
    """The key sign-in attempts are counted under: one per address, however it is typed."""
    return email.strip().casefold()
