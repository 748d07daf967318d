"""Local sign-in on real argon2, pyotp and secure tokens, over every storage backend.

The `local` fixture runs each test on the in-memory storage, SQLite and PostgreSQL (the storage
fixtures are the storage contract suite's own). Argon2 runs with low costs here so that a
hundred sign-ins stay quick; production uses the library's defaults.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from attrs import frozen

from adapters.local.identity import (
    Argon2PasswordHasher,
    LocalIdentityProvider,
    PyotpTotpVerifier,
    SecretsTokenGenerator,
)
from adapters.memory import FixedClock, SequentialIds
from portal_core.dispatch import EventDispatcher
from portal_core.identity.service import SignInService
from portal_core.organisations.model import Organisation, Role, User
from portal_core.ports import UnitOfWorkFactory
from tests.contract.storage.conftest import (  # the storage backends, shared  # noqa: F401
    memory_storage,
    postgres_database_url,
    postgres_session_storage,
    postgres_storage,
    sqlite_storage,
    sqlite_template,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE_URL = "https://portal.example.com"
PASSWORD = "correct horse battery staple"
ORGANISATIONS = ("acme", "globex")


def fast_hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def make_user(uid: str, organisation_id: str | None, *roles: Role) -> User:
    return User(
        id=uid,
        email=f"{uid}@example.com",
        name=uid.title(),
        organisation_id=organisation_id,
        roles=frozenset(roles),
        created_at=START,
    )


@frozen
class LocalSignIn:
    uow: UnitOfWorkFactory
    clock: FixedClock
    totp: PyotpTotpVerifier
    service: SignInService
    provider: LocalIdentityProvider

    def join(self, user: User, password: str = PASSWORD) -> None:
        """Invite `user` and accept the invitation with `password`."""
        link = self.provider.invite(user)
        assert link is not None
        self.service.accept_invitation(link.rsplit("/", 1)[1], password)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def local(request: pytest.FixtureRequest) -> LocalSignIn:
    storage = request.getfixturevalue(f"{request.param}_storage")
    uow: UnitOfWorkFactory = storage.unit_of_work
    clock = FixedClock(START)
    with uow() as unit:
        for organisation_id in ORGANISATIONS:
            unit.organisations.add(
                Organisation(id=organisation_id, name=organisation_id.title(), created_at=START)
            )
        unit.commit()
    totp = PyotpTotpVerifier()
    service = SignInService(
        uow=uow,
        clock=clock,
        ids=SequentialIds(),
        tokens=SecretsTokenGenerator(),
        hasher=fast_hasher(),
        totp=totp,
        dispatcher=EventDispatcher(),
        base_url=BASE_URL,
    )
    return LocalSignIn(uow, clock, totp, service, LocalIdentityProvider(service))
