"""What sign-in needs from outside: hashing, TOTP, randomness and storage, as Protocols.

The four repositories live on the main unit of work (`portal_core.ports.UnitOfWork`) as
`credentials`, `sessions`, `one_time_tokens` and `sign_in_attempts`, so that onboarding
creates a user and its invitation in one transaction, and removing a contact ends their
sessions in the same transaction that disables them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from portal_core.identity.model import (
    Credential,
    OneTimeToken,
    Session,
    SignInAttempt,
    TokenPurpose,
)


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str:
        """A salted, slow hash of `password` in a self-describing format."""
        ...

    def verify(self, password: str, password_hash: str) -> bool:
        """Whether `password` matches; False (never an error) for a malformed hash."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with weaker parameters than the current ones."""
        ...


class TotpVerifier(Protocol):
    def new_secret(self) -> str:
        """A fresh random secret (base32) for an authenticator app."""
        ...

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        """The `otpauth://` URI an authenticator app reads from a QR code."""
        ...

    def matching_step(self, secret: str, code: str, *, at: datetime) -> int | None:
        """The time step whose code `code` is, allowing one step either side of `at`, or
        None when it matches none. The caller refuses steps it has accepted before."""
        ...


class TokenGenerator(Protocol):
    def new_token(self) -> str:
        """An unguessable URL-safe token (at least 256 bits from a secure source)."""
        ...


class CredentialRepository(Protocol):
    def get(self, user_id: str) -> Credential | None: ...

    def put(self, credential: Credential) -> None:
        """Store `credential`, replacing the user's earlier one."""
        ...


class SessionRepository(Protocol):
    def get(self, token_digest: str) -> Session | None: ...

    def add(self, session: Session) -> None:
        """Raises Conflict when a session with this digest exists already."""
        ...

    def update(self, session: Session) -> None:
        """Store a changed session (its last-seen time); absent sessions stay absent."""
        ...

    def remove(self, token_digest: str) -> bool:
        """End one session; False when there was none."""
        ...

    def for_user(self, user_id: str) -> Sequence[Session]:
        """The user's sessions, oldest first."""
        ...

    def remove_for_user(self, user_id: str) -> int:
        """End every session of the user; how many there were."""
        ...


class OneTimeTokenRepository(Protocol):
    def get(self, token_digest: str) -> OneTimeToken | None: ...

    def add(self, token: OneTimeToken) -> None:
        """Raises Conflict when a token with this digest exists already."""
        ...

    def use(self, token_digest: str, *, at: datetime) -> bool:
        """Mark the token used at `at`, unless it was used already (then False): of two
        concurrent uses, exactly one gets True."""
        ...

    def unused_for(self, user_id: str, purpose: TokenPurpose) -> Sequence[OneTimeToken]:
        """The user's unused tokens of `purpose`, newest first (expired ones included)."""
        ...

    def discard_unused(self, user_id: str, purpose: TokenPurpose) -> int:
        """Remove the user's unused tokens of `purpose` (a newer link replaces older ones)."""
        ...


class SignInAttemptLog(Protocol):
    def hold(self, account_key: str) -> None:
        """Serialise throttling decisions about `account_key` until the unit of work ends,
        so that concurrent sign-ins cannot each see the count below the limit."""
        ...

    def record(self, attempt: SignInAttempt) -> None: ...

    def mark_succeeded(self, attempt_id: str) -> None: ...

    def failures_for_account(self, account_key: str, *, since: datetime) -> Sequence[datetime]:
        """When the account's failed attempts after `since` (exclusive) happened, oldest first."""
        ...

    def failures_from_address(self, client_address: str, *, since: datetime) -> Sequence[datetime]:
        """When the address's failed attempts after `since` (exclusive) happened, oldest first."""
        ...

    def forget_before(self, moment: datetime) -> int:
        """Remove attempts made before `moment` (older than any window); how many."""
        ...
