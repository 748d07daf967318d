"""The one-command default: a fresh data directory becomes a working portal on first start."""

from __future__ import annotations

import stat
from pathlib import Path

from litestar.testing import TestClient

from entrypoints.bootstrap import bootstrap
from entrypoints.settings import Settings
from entrypoints.web.app import create_served_app
from portal_core.ports import CaseQuery


def test_first_start_creates_the_database_and_loads_the_demo_data(tmp_path: Path) -> None:
    settings = Settings.from_env({"PORTAL_ALLOWED_HOSTS": "testserver.local"}, cwd=tmp_path)

    with TestClient(create_served_app(settings), base_url="http://testserver.local") as client:
        ready = client.get("/readyz")
        page = client.get("/")

    assert ready.status_code == 200
    assert "Harbour Lane Advisers" in page.text
    assert (tmp_path / "var" / "portal.db").is_file()
    container = bootstrap(settings)
    try:
        with container.uow() as uow:
            assert uow.cases.search(CaseQuery(), scope=None).total == 10
    finally:
        container.close()


def test_the_generated_secret_key_is_private_and_survives_a_restart(tmp_path: Path) -> None:
    first = Settings.from_env({}, cwd=tmp_path)
    again = Settings.from_env({}, cwd=tmp_path)

    key_file = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.secret_key == again.secret_key
    assert len(first.secret_key) >= 32
    assert first.secret_key not in repr(first)


def test_a_given_secret_key_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings.from_env({"PORTAL_SECRET_KEY": "g" * 40}, cwd=tmp_path)

    assert settings.secret_key == "g" * 40
    assert not (tmp_path / "var").exists()
