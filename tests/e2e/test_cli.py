"""The `portal` command on the embedded default: SQLite and files in a temporary data directory."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from entrypoints.cli import main

SECRET = "cli-test-secret-key-0123456789-0123456789"


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {"PORTAL_DATA_DIR": str(tmp_path / "var"), "PORTAL_SECRET_KEY": SECRET}


def run(capsys: pytest.CaptureFixture[str], environ: dict[str, str], *argv: str) -> tuple[int, str]:
    status = main(list(argv), environ)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_db_check_fails_on_a_new_database_until_it_is_upgraded(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    status, output = run(capsys, environ, "db", "check")
    assert status == 1
    assert "portal db upgrade" in output

    assert run(capsys, environ, "db", "upgrade") == (0, "The database schema is up to date.\n")
    assert run(capsys, environ, "db", "check") == (0, "The database schema is current.\n")


def test_demo_data_is_added_once(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    status, output = run(capsys, environ, "demo-data")
    assert status == 0
    assert output == "Demo data added: 2 organisations, 8 people, 10 cases.\n"

    assert run(capsys, environ, "demo-data") == (
        0,
        "The demo data is there already; nothing added.\n",
    )


def test_audit_verify_counts_an_intact_chain_and_names_the_first_altered_entry(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    run(capsys, environ, "demo-data")

    status, output = run(capsys, environ, "audit", "verify")
    assert status == 0
    assert output.startswith("OK: ")
    entries = int(output.split()[1])
    assert entries > 10

    # Someone with access to the database file rewrites history.
    with sqlite3.connect(Path(environ["PORTAL_DATA_DIR"]) / "portal.db") as database:
        database.execute("DROP TRIGGER audit_entries_no_update")
        database.execute("UPDATE audit_entries SET actor_id = 'someone-else' WHERE sequence = 5")
    database.close()

    status, output = run(capsys, environ, "audit", "verify")
    assert status == 1
    assert output.startswith("BROKEN at entry 5")


def test_a_wrong_setting_is_reported_with_exit_status_2(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    status, output = run(capsys, {**environ, "PORTAL_PORT": "eighty"}, "db", "check")

    assert status == 2
    assert output == "portal: PORTAL_PORT must be a port number (1-65535), not 'eighty'.\n"


def test_importing_the_entrypoints_connects_to_nothing_and_writes_nothing(tmp_path: Path) -> None:
    probe = (
        "import sys, entrypoints.cli, entrypoints.web.app, entrypoints.demo;"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'uvicorn', 'psycopg') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ.get("PATH", ""), "PORTAL_DATABASE_URL": "postgresql://nowhere/x"},
    )

    assert result.stdout.strip() == "[]"
    assert list(tmp_path.iterdir()) == []


def test_production_refuses_to_serve_an_old_schema_and_says_what_to_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    production = {
        "PORTAL_ENVIRONMENT": "production",
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_BASE_URL": "https://portal.example.com",
        "PORTAL_FIRM_NAME": "Example Partners LLP",
        "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
    }

    status, output = run(capsys, production, "serve", "--port", "8123")

    assert status == 1
    assert "portal db upgrade" in output
    assert "Uvicorn running" not in output

    assert run(capsys, production, "db", "upgrade")[0] == 0
    assert run(capsys, production, "db", "check")[0] == 0
