"""A SignInService on the in-memory fakes, with a few people already onboarded."""

from __future__ import annotations

from datetime import UTC, datetime

from attrs import frozen

from adapters.memory import FixedClock, InMemoryStorage, SequentialIds
from adapters.memory.identity import (
    InMemoryPasswordHasher,
    InMemoryTokenGenerator,
    InMemoryTotpVerifier,
)
from portal_core.dispatch import EventDispatcher
from portal_core.identity.model import Credential
from portal_core.identity.service import SignInPolicy, SignInService
from portal_core.organisations.model import Organisation, Role, User

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
BASE_URL = "https://portal.example.com"


@frozen
class World:
    storage: InMemoryStorage
    clock: FixedClock
    hasher: InMemoryPasswordHasher
    totp: InMemoryTotpVerifier
    tokens: InMemoryTokenGenerator
    service: SignInService
    dispatcher: EventDispatcher
    ann: User
    """A client admin of Acme with a password."""
    ivy: User
    """Invited to Acme, not signed up yet."""
    ada: User
    """The firm's administrator, with a password."""


def person(uid: str, org: str | None, role: Role) -> User:
    return User(
        id=uid,
        email=f"{uid}@example.com",
        name=uid.title(),
        organisation_id=org,
        roles=frozenset({role}),
        created_at=START,
    )


def make_world(policy: SignInPolicy | None = None) -> World:
    storage = InMemoryStorage()
    clock = FixedClock(START)
    hasher = InMemoryPasswordHasher()
    totp = InMemoryTotpVerifier()
    tokens = InMemoryTokenGenerator()
    dispatcher = EventDispatcher()
    service = SignInService(
        uow=storage.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        tokens=tokens,
        hasher=hasher,
        totp=totp,
        dispatcher=dispatcher,
        base_url=BASE_URL,
        policy=policy,
    )
    ann = person("ann", "acme", Role.CLIENT_ADMIN)
    ivy = person("ivy", "acme", Role.CLIENT_VIEWER)
    ada = person("ada", None, Role.ADMIN)
    with storage.unit_of_work() as uow:
        uow.organisations.add(Organisation(id="acme", name="Acme Ltd", created_at=START))
        for user in (ann, ivy, ada):
            uow.users.add(user)
        for user in (ann, ada):
            uow.credentials.put(
                Credential(
                    user_id=user.id, password_hash=hasher.hash(PASSWORD), password_changed_at=START
                )
            )
        uow.commit()
    return World(
        storage=storage,
        clock=clock,
        hasher=hasher,
        totp=totp,
        tokens=tokens,
        service=service,
        dispatcher=dispatcher,
        ann=ann,
        ivy=ivy,
        ada=ada,
    )
