"""One storage per backend: the in-memory fake, SQLite and PostgreSQL, behind one fixture.

Every test in this package that asks for `uow` runs three times. SQLite tests each get a copy
of a database migrated once per session; PostgreSQL tests share one database created (and
migrated) per session under a unique name and emptied before each test.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import create_engine, make_url, text

from adapters.memory import InMemoryStorage
from adapters.sql import SqlStorage
from adapters.sql.tables import metadata
from portal_core.ports import UnitOfWorkFactory


class Storage(Protocol):
    def unit_of_work(self) -> object: ...


@pytest.fixture
def memory_storage() -> InMemoryStorage:
    return InMemoryStorage()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "portal.db"
    storage = SqlStorage.from_url(f"sqlite:///{path}")
    storage.upgrade()
    storage.dispose()  # the last connection to close folds the WAL into the file
    return path


@pytest.fixture
def sqlite_storage(sqlite_template: Path, tmp_path: Path) -> Iterator[SqlStorage]:
    path = tmp_path / "portal.db"
    shutil.copyfile(sqlite_template, path)
    storage = SqlStorage.from_url(f"sqlite:///{path}")
    yield storage
    storage.dispose()


@pytest.fixture(scope="session")
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh, migrated database of its own for this test session (and xdist worker)."""
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    storage = SqlStorage.from_url(url)
    storage.upgrade()
    storage.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_session_storage(postgres_database_url: str) -> Iterator[SqlStorage]:
    storage = SqlStorage.from_url(postgres_database_url)
    yield storage
    storage.dispose()


@pytest.fixture
def postgres_storage(postgres_session_storage: SqlStorage) -> SqlStorage:
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with postgres_session_storage.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return postgres_session_storage


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest) -> Storage:
    found: Storage = request.getfixturevalue(f"{request.param}_storage")
    return found


@pytest.fixture
def uow(storage: Storage) -> UnitOfWorkFactory:
    factory: UnitOfWorkFactory = storage.unit_of_work  # type: ignore[assignment]
    return factory


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_storage(request: pytest.FixtureRequest) -> SqlStorage:
    """The SQL adapter alone, for what only it has (migrations, faults, audit verification)."""
    found: SqlStorage = request.getfixturevalue(f"{request.param}_storage")
    return found
