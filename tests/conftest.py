"""Suite-wide settings: Hypothesis profiles and access to the services some tests need.

PostgreSQL and the browser are required on CI (`PORTAL_REQUIRE_SERVICES=1`, set by `.ci/run`):
there a missing service fails the tests that need it. Elsewhere those tests skip with a reason.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("quick", max_examples=50, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "thorough" if os.environ.get("CI") else "quick")
)

POSTGRES_URL = os.environ.get(
    "PORTAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM_PATH = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")


def services_required() -> bool:
    return os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip with `reason`, or fail where the services are required (CI)."""
    if services_required():
        pytest.fail(f"required service missing on CI: {reason}")
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of the test PostgreSQL server (127.0.0.1:5432, database `test`)."""
    if not _port_open("127.0.0.1", 5432):
        unavailable(
            "PostgreSQL is not running on 127.0.0.1:5432 (start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`)"
        )
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of the test Redis server (127.0.0.1:6379, database 15)."""
    if not _port_open("127.0.0.1", 6379):
        unavailable(
            "Redis is not running on 127.0.0.1:6379 (start it with `redis-server --daemonize yes "
            '--bind 127.0.0.1 --port 6379 --save ""`)'
        )
    return REDIS_URL


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not shutil.which(CHROMIUM_PATH) and not os.path.exists(CHROMIUM_PATH):
        unavailable(f"no chromium at {CHROMIUM_PATH} (install Debian's `chromium` package)")
    return CHROMIUM_PATH
