"""Local sign-in for the embedded default: argon2 hashes, TOTP, secure tokens, and the
IdentityProvider that the web layer and onboarding use.

`Argon2PasswordHasher` wraps pwdlib's argon2id hasher (argon2-cffi underneath) with
argon2-cffi's default cost (RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes); tests
pass lower costs. `PyotpTotpVerifier` wraps pyotp (RFC 6238, 30-second steps, SHA-1, six
digits: what every authenticator app reads).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

import argon2
import pyotp
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from portal_core.identity.service import SignInService
from portal_core.organisations.model import Principal, User

SYSTEM_ACTOR = "system:local-identity"
TOKEN_BYTES = 32
"""256 bits of randomness per session token and per link."""
TOTP_TOLERANCE_STEPS = 1
"""Codes from one 30-second step before or after now are accepted: clocks drift, people type."""


class Argon2PasswordHasher:
    def __init__(
        self,
        *,
        time_cost: int = argon2.DEFAULT_TIME_COST,
        memory_cost: int = argon2.DEFAULT_MEMORY_COST,
        parallelism: int = argon2.DEFAULT_PARALLELISM,
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )
        self._hashes = PasswordHash((self._argon2,))

    def hash(self, password: str) -> str:
        return self._hashes.hash(password)

    def verify(self, password: str, password_hash: str) -> bool:
        try:
            return self._hashes.verify(password, password_hash)
        except UnknownHashError:
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        if not Argon2Hasher.identify(password_hash):
            return True
        return self._argon2.check_needs_rehash(password_hash)


class PyotpTotpVerifier:
    def new_secret(self) -> str:
        return str(pyotp.random_base32())

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        return str(pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer))

    def matching_step(self, secret: str, code: str, *, at: datetime) -> int | None:
        if not code.isdigit():
            return None
        totp = pyotp.TOTP(secret)
        now_step = int(totp.timecode(at))
        for step in range(now_step - TOTP_TOLERANCE_STEPS, now_step + TOTP_TOLERANCE_STEPS + 1):
            if hmac.compare_digest(str(totp.generate_otp(step)), code):
                return step
        return None

    def code_at(self, secret: str, at: datetime) -> str:
        """The code an authenticator app shows at `at` (for tests and the demo data)."""
        return str(pyotp.TOTP(secret).at(at))


class SecretsTokenGenerator:
    def new_token(self) -> str:
        return secrets.token_urlsafe(TOKEN_BYTES)


class LocalIdentityProvider:
    """The IdentityProvider of the embedded default: the portal's own sessions and links."""

    def __init__(self, sign_in: SignInService) -> None:
        self._sign_in = sign_in

    def verify(self, token: str) -> Principal:
        return self._sign_in.resolve(token)

    def invite(self, user: User) -> str | None:
        """Enable the user as given; queue an invitation e-mail and return its link unless they
        have a password already."""
        return self._sign_in.admit(user, actor_id=SYSTEM_ACTOR)

    def disable(self, user_id: str) -> None:
        self._sign_in.lock_out(user_id, actor_id=SYSTEM_ACTOR)
