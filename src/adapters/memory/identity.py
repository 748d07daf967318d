"""In-memory sign-in storage and fast stand-ins for hashing, TOTP and token generation.

The repositories work on the unit of work's private `InMemoryState` copy, like the others, and
follow the contracts in `portal_core.identity.ports` (checked against SQL by the contract
suite). The hasher, TOTP verifier and token generator are deterministic and quick, for unit
tests; they prove nothing cryptographic and are never wired in production.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from attrs import evolve

from portal_core.errors import Conflict, NotFound
from portal_core.identity.model import (
    AttemptOutcome,
    Credential,
    OneTimeToken,
    Session,
    SignInAttempt,
    TokenPurpose,
)

if TYPE_CHECKING:
    from adapters.memory.store import InMemoryState

TOTP_STEP_SECONDS = 30


def _require_user(state: InMemoryState, user_id: str) -> None:
    """What the SQL storage's foreign keys do: sign-in rows belong to a stored user."""
    if user_id not in state.users:
        raise NotFound("No such user.")


class InMemoryCredentialRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, user_id: str) -> Credential | None:
        return self._state.credentials.get(user_id)

    def put(self, credential: Credential) -> None:
        _require_user(self._state, credential.user_id)
        self._state.credentials[credential.user_id] = credential


class InMemorySessionRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, token_digest: str) -> Session | None:
        return self._state.sessions.get(token_digest)

    def add(self, session: Session) -> None:
        if session.token_digest in self._state.sessions:
            raise Conflict("That session exists already.")
        _require_user(self._state, session.user_id)
        self._state.sessions[session.token_digest] = session

    def update(self, session: Session) -> None:
        if session.token_digest in self._state.sessions:
            self._state.sessions[session.token_digest] = session

    def remove(self, token_digest: str) -> bool:
        return self._state.sessions.pop(token_digest, None) is not None

    def for_user(self, user_id: str) -> Sequence[Session]:
        return sorted(
            (s for s in self._state.sessions.values() if s.user_id == user_id),
            key=lambda s: (s.created_at, s.token_digest),
        )

    def remove_for_user(self, user_id: str) -> int:
        digests = [d for d, s in self._state.sessions.items() if s.user_id == user_id]
        for digest in digests:
            del self._state.sessions[digest]
        return len(digests)


class InMemoryOneTimeTokenRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, token_digest: str) -> OneTimeToken | None:
        return self._state.one_time_tokens.get(token_digest)

    def add(self, token: OneTimeToken) -> None:
        if token.token_digest in self._state.one_time_tokens:
            raise Conflict("That link exists already.")
        _require_user(self._state, token.user_id)
        self._state.one_time_tokens[token.token_digest] = token

    def use(self, token_digest: str, *, at: datetime) -> bool:
        stored = self._state.one_time_tokens.get(token_digest)
        if stored is None or stored.used_at is not None:
            return False
        self._state.one_time_tokens[token_digest] = evolve(stored, used_at=at)
        return True

    def unused_for(self, user_id: str, purpose: TokenPurpose) -> Sequence[OneTimeToken]:
        return sorted(
            (
                token
                for token in self._state.one_time_tokens.values()
                if token.user_id == user_id and token.purpose is purpose and token.used_at is None
            ),
            key=lambda token: (token.created_at, token.token_digest),
            reverse=True,
        )

    def discard_unused(self, user_id: str, purpose: TokenPurpose) -> int:
        digests = [
            digest
            for digest, token in self._state.one_time_tokens.items()
            if token.user_id == user_id and token.purpose is purpose and token.used_at is None
        ]
        for digest in digests:
            del self._state.one_time_tokens[digest]
        return len(digests)


class InMemorySignInAttemptLog:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def hold(self, account_key: str) -> None:
        """Nothing to do: an in-memory unit of work holds the storage's only lock already."""

    def record(self, attempt: SignInAttempt) -> None:
        if attempt.id in self._state.sign_in_attempts:
            raise Conflict(f"Sign-in attempt {attempt.id} is recorded already.")
        self._state.sign_in_attempts[attempt.id] = attempt

    def mark_succeeded(self, attempt_id: str) -> None:
        stored = self._state.sign_in_attempts.get(attempt_id)
        if stored is not None:
            self._state.sign_in_attempts[attempt_id] = evolve(
                stored, outcome=AttemptOutcome.SUCCEEDED
            )

    def _failures(
        self, *, since: datetime, account_key: str | None = None, client_address: str | None = None
    ) -> Sequence[datetime]:
        return sorted(
            a.at
            for a in self._state.sign_in_attempts.values()
            if a.outcome is AttemptOutcome.FAILED
            and a.at > since
            and (account_key is None or a.account_key == account_key)
            and (client_address is None or a.client_address == client_address)
        )

    def failures_for_account(self, account_key: str, *, since: datetime) -> Sequence[datetime]:
        return self._failures(since=since, account_key=account_key)

    def failures_from_address(self, client_address: str, *, since: datetime) -> Sequence[datetime]:
        return self._failures(since=since, client_address=client_address)

    def forget_before(self, moment: datetime) -> int:
        old = [i for i, a in self._state.sign_in_attempts.items() if a.at < moment]
        for attempt_id in old:
            del self._state.sign_in_attempts[attempt_id]
        return len(old)


class InMemoryPasswordHasher:
    """A fast, unsalted stand-in for argon2 that counts how many passwords it checked.

    `version` plays the part of argon2's cost parameters: hashes of another version need
    rehashing, as hashes made with weaker parameters do.
    """

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.verifications = 0
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        digest = hashlib.sha256(password.encode()).hexdigest()
        return f"fake${self.version}${digest}"

    def verify(self, password: str, password_hash: str) -> bool:
        with self._lock:
            self.verifications += 1
        scheme, _, rest = password_hash.partition("$")
        _, _, digest = rest.partition("$")
        return scheme == "fake" and digest == hashlib.sha256(password.encode()).hexdigest()

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake${self.version}$")


class InMemoryTotpVerifier:
    """Six-digit codes per 30-second step, derived from the secret and the step by SHA-256.
    Tests read the current code with `code_at`, as a person reads it off their phone."""

    def __init__(self) -> None:
        self._secrets = itertools.count(1)

    def new_secret(self) -> str:
        return f"SECRET{next(self._secrets):06d}"

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        return f"otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}"

    @staticmethod
    def step_at(at: datetime) -> int:
        return int(at.timestamp()) // TOTP_STEP_SECONDS

    def code_for_step(self, secret: str, step: int) -> str:
        digest = hashlib.sha256(f"{secret}:{step}".encode()).hexdigest()
        return f"{int(digest, 16) % 1_000_000:06d}"

    def code_at(self, secret: str, at: datetime) -> str:
        return self.code_for_step(secret, self.step_at(at))

    def matching_step(self, secret: str, code: str, *, at: datetime) -> int | None:
        now_step = self.step_at(at)
        for step in (now_step - 1, now_step, now_step + 1):
            if self.code_for_step(secret, step) == code:
                return step
        return None


class InMemoryTokenGenerator:
    """Tokens `token-000001`, `token-000002`, ...: readable, and never secret."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self.issued: list[str] = []

    def new_token(self) -> str:
        with self._lock:
            token = f"token-{next(self._counter):06d}"
            self.issued.append(token)
            return token
