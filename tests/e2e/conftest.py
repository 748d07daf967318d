"""Fixtures for tests through HTTP, the CLI and a browser: the real app on in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from adapters.memory import FixedClock, InMemoryFileStore, InMemoryStorage, SequentialIds
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.settings import Settings
from entrypoints.web import create_app
from portal_core.organisations.model import Organisation, Role, User
from portal_core.ports import FileStore, UnitOfWork, UnitOfWorkFactory

TEST_HOST = "testserver.local"
SECRET = "test-secret-key-that-is-long-enough-0123456789"


def settings_for(tmp_path: Path, **variables: str) -> Settings:
    environ: Mapping[str, str] = {
        "PORTAL_DATA_DIR": str(tmp_path / "var"),
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_ALLOWED_HOSTS": f"{TEST_HOST},127.0.0.1",
        "PORTAL_DEMO_DATA": "false",
        "PORTAL_FIRM_NAME": "Example Partners LLP",
        **{f"PORTAL_{name.upper()}": value for name, value in variables.items()},
    }
    return Settings.from_env(environ, cwd=tmp_path)


def container_on_fakes(
    settings: Settings,
    *,
    uow: UnitOfWorkFactory | None = None,
    files: FileStore | None = None,
    clock: FixedClock | None = None,
) -> Container:
    """The real wiring, with the storage, files, clock and ids swapped for in-memory fakes."""
    clock = clock or FixedClock()
    return bootstrap(
        settings,
        clock=clock,
        ids=SequentialIds(),
        uow=uow or InMemoryStorage().unit_of_work,
        files=files or InMemoryFileStore(clock),
    )


class UnreachableStorage:
    """A storage whose every unit of work fails the way a lost database connection does."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        raise ConnectionRefusedError(
            "could not connect to postgresql://portal:hunter2@db.internal:5432/portal"
        )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def container(settings: Settings) -> Container:
    return container_on_fakes(settings)


@pytest.fixture
def app(container: Container) -> Litestar:
    return create_app(container)


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, base_url=f"http://{TEST_HOST}") as test_client:
        yield test_client


PEOPLE_PASSWORD = "tangerine-otter-lighthouse-47"


def onboard_people(
    container: Container, people: Mapping[str, tuple[str | None, Role]]
) -> dict[str, User]:
    """Two client organisations, Acme and Globex, and `people` (name: organisation, role),
    each invited and signed up with `PEOPLE_PASSWORD`, as the admin pages would do it."""
    now = container.clock.now()
    users = {
        name: User(
            id=f"user-{name}",
            email=f"{name}@{organisation or 'firm'}.example",
            name=name.title(),
            organisation_id=organisation,
            roles=frozenset({role}),
            created_at=now,
        )
        for name, (organisation, role) in people.items()
    }
    with container.uow() as uow:
        for organisation_id in ("acme", "globex"):
            uow.organisations.add(
                Organisation(
                    id=organisation_id, name=f"{organisation_id.title()} Ltd", created_at=now
                )
            )
        uow.commit()
    for person in users.values():
        link = container.sign_in.admit(person, actor_id="test-setup")
        assert link is not None
        container.sign_in.accept_invitation(link.rsplit("/", 1)[1], PEOPLE_PASSWORD)
    return users
