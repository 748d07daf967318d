"""Benchmark: the signed-in case list and case detail of a client with 1,000 cases, over HTTP.

Seeds a SQLite database (a temporary directory) with one client organisation, one signed-in
contact and 1,000 cases through the portal's own services; serves it with `portal serve
--workers 2` on 127.0.0.1; and loads it with wrk (64 connections) next to two reference apps
served the same way in the same run (bench/web_reference.py):

- memory: a bare Litestar endpoint returning the case list page's JSON body from memory;
- orm: a bare Litestar endpoint reading one case row by primary key through the async
  SQLAlchemy ORM from the same database.

Prints requests/s, latency p50/p90/p99 and each portal figure as a ratio to both references.
Targets (issue 7): at least the ORM reference's throughput, and at least 25% of the memory
reference's.

    .venv/bin/python bench/web_portal.py              # 10 s per target
    .venv/bin/python bench/web_portal.py --seconds 5 --connections 64 --workers 2

Needs wrk (`apt-get install wrk`). Runs only on loopback; every run and wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
from attrs import frozen

from entrypoints.bootstrap import bootstrap
from entrypoints.settings import Settings
from entrypoints.web.auth import session_cookie_name
from portal_core.cases.service import SubmitCase
from portal_core.organisations.model import Organisation, Role, User

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "correct horse battery staple 42"
CASES = 1_000
START_TIMEOUT = 60.0
PAUSE = 5.0
"""Seconds between targets, so that one target's backlog does not slow the next."""


@frozen
class Seeded:
    database_url: str
    session_token: str
    case_id: str


@frozen
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    timeouts: int
    """Requests wrk gave up on after its 2 s timeout."""


def portal_environment(data_dir: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PORTAL_DATA_DIR": str(data_dir),
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_DEMO_DATA": "false",
        "PORTAL_HOST": HOST,
        "PORTAL_PORT": str(port),
        "PORTAL_ALLOWED_HOSTS": HOST,
        "PORTAL_FIRM_NAME": "Bench & Partners",
        # 64 connections from one address would meet the per-address limit at once.
        "PORTAL_RATE_LIMIT_PER_MINUTE": "0",
        # One access line per request is written at INFO; the benchmark measures serving.
        "PORTAL_LOG_LEVEL": "WARNING",
        "PORTAL_RUN_WORKER_IN_PROCESS": "false",
    }


def seed(environ: Mapping[str, str]) -> Seeded:
    """One organisation, one client contact with a password and a session, 1,000 cases."""
    settings = Settings.from_env(environ)
    container = bootstrap(settings)
    try:
        container.prepare_storage()
        now = container.clock.now()
        with container.uow() as uow:
            uow.organisations.add(Organisation(id="org-bench", name="Bench Ltd", created_at=now))
            uow.commit()
        contact = User(
            id="user-bench",
            email="contact@bench.example",
            name="Bench Contact",
            organisation_id="org-bench",
            roles=frozenset({Role.CLIENT_ADMIN}),
            created_at=now,
        )
        invitation = container.sign_in.admit(contact, actor_id="bench")
        if invitation is None:
            raise RuntimeError("the new contact got no invitation link")
        container.sign_in.accept_invitation(invitation.rsplit("/", 1)[1], PASSWORD)
        signed_in = container.sign_in.sign_in(contact.email, PASSWORD, client_address=HOST)
        started = time.perf_counter()
        case_id = ""
        for number in range(CASES):
            case = container.cases.submit(
                signed_in.principal,
                SubmitCase(
                    subject=f"Question {number:04d} about the annual accounts",
                    description="Please see the attached figures and advise. " * 4,
                ),
            )
            case_id = case.id
        print(f"seeded {CASES} cases in {time.perf_counter() - started:.1f} s", flush=True)
        return Seeded(
            database_url=settings.database_url, session_token=signed_in.token, case_id=case_id
        )
    finally:
        container.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(command: list[str], environ: Mapping[str, str], port: int, log: Path) -> Iterator[None]:
    """Runs a server process until the block ends; waits (bounded) until it answers."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=dict(environ), stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[:3]} exited: {log.read_text()[-2000:]}")
                try:
                    with socket.create_connection((HOST, port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{command[:3]} did not start") from None
                    time.sleep(0.2)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def uvicorn_command(factory: str, port: int, workers: int) -> list[str]:
    return [
        str(VENV_BIN / "python"),
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--app-dir",
        str(HERE),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


_LATENCY = re.compile(r"^\s*(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_TIMEOUTS = re.compile(r"Socket errors:.*?timeout (\d+)")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(
    name: str, url: str, *, seconds: int, connections: int, headers: Mapping[str, str]
) -> Result:
    header_args = [arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")]
    common = ["wrk", "-t", "2", "-c", str(connections), *header_args, "--latency", url]
    # A short warm-up (imports, connection pools, SQLite page cache), then the measured run.
    subprocess.run([*common[:5], "-d", "2s", *common[5:]], check=True, capture_output=True)
    output = subprocess.run(
        [*common[:5], "-d", f"{seconds}s", *common[5:]],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    rate = _RATE.search(output)
    latencies = {p: float(v) * _UNIT_MS[u] for p, v, u in _LATENCY.findall(output)}
    if rate is None or len(latencies) != 3:
        raise RuntimeError(f"could not read wrk's output for {name}:\n{output}")
    non_2xx, timeouts = _NON_2XX.search(output), _TIMEOUTS.search(output)
    return Result(
        name=name,
        requests_per_second=float(rate[1]),
        p50_ms=latencies["50"],
        p90_ms=latencies["90"],
        p99_ms=latencies["99"],
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        timeouts=int(timeouts[1]) if timeouts else 0,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per target")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--list-path", default="/api/v1/cases")
    parser.add_argument("--detail-path", default="/api/v1/cases/{case_id}")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 120 or not 1 <= args.connections <= 1024:
        parser.error("--seconds must be 1-120 and --connections 1-1024")
    if shutil.which("wrk") is None:
        print("wrk is needed: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`.")
        return 2

    with tempfile.TemporaryDirectory(prefix="portal-bench-") as temporary:
        data_dir = Path(temporary)
        portal_port, memory_port, orm_port = free_port(), free_port(), free_port()
        environ = portal_environment(data_dir, portal_port)
        seeded = seed(environ)
        cookie = {
            "Cookie": f"{session_cookie_name(Settings.from_env(environ))}={seeded.session_token}"
        }
        list_url = f"http://{HOST}:{portal_port}{args.list_path}"
        detail_url = f"http://{HOST}:{portal_port}{args.detail_path.format(case_id=seeded.case_id)}"

        results: list[Result] = []
        portal = [str(VENV_BIN / "portal"), "serve", "--workers", str(args.workers)]
        with served(portal, environ, portal_port, data_dir / "portal.log"):
            for url in (list_url, detail_url):
                check = httpx.get(url, headers=cookie, timeout=10)
                if check.status_code != 200:
                    print(f"{url} answered {check.status_code}; is the route there?")
                    print(check.text[:500])
                    return 1
            body = httpx.get(list_url, headers=cookie, timeout=10).json()
            print(
                f"case list page: {len(json.dumps(body))} bytes of JSON, "
                f"{len(body.get('items', []))} cases of {body.get('total')}",
                flush=True,
            )
            health_url = f"http://{HOST}:{portal_port}/healthz"
            targets = (
                # Diagnostics: the portal's stack alone, then with the session looked up.
                ("portal /healthz, anonymous", health_url, {}),
                ("portal /healthz, signed in", health_url, cookie),
                ("portal case list", list_url, cookie),
                ("portal case detail", detail_url, cookie),
            )
            for name, url, headers in targets:
                time.sleep(PAUSE)  # requests wrk gave up on are still being answered
                results.append(
                    run_wrk(
                        name,
                        url,
                        seconds=args.seconds,
                        connections=args.connections,
                        headers=headers,
                    )
                )

        server_errors = [
            line
            for line in (data_dir / "portal.log").read_text(errors="replace").splitlines()
            if "error" in line.lower()
        ]
        if server_errors:
            print(f"the portal logged {len(server_errors)} error lines; the first:")
            print("  " + server_errors[0][:400])
        body_file = data_dir / "body.json"
        body_file.write_text(json.dumps(body))
        reference_environ = {
            **os.environ,
            "BENCH_BODY_FILE": str(body_file),
            "BENCH_DATABASE_URL": seeded.database_url,
            "BENCH_ROW_ID": seeded.case_id,
        }
        references = (
            (
                "reference: JSON from memory",
                "web_reference:memory_app",
                memory_port,
                "/reference/memory",
            ),
            (
                "reference: one row by key (async ORM)",
                "web_reference:orm_app",
                orm_port,
                "/reference/orm",
            ),
        )
        for name, factory, port, path in references:
            command = uvicorn_command(factory, port, args.workers)
            with served(command, reference_environ, port, data_dir / f"{port}.log"):
                time.sleep(PAUSE)
                results.append(
                    run_wrk(
                        name,
                        f"http://{HOST}:{port}{path}",
                        seconds=args.seconds,
                        connections=args.connections,
                        headers={},
                    )
                )

    report(results, connections=args.connections, workers=args.workers)
    return 0


def report(results: list[Result], *, connections: int, workers: int) -> None:
    print(
        f"\nwrk, {connections} connections, 2 threads; servers: uvicorn, {workers} workers; 127.0.0.1"
    )
    print(
        f"{'target':40} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'timeouts':>8}"
    )
    for r in results:
        print(
            f"{r.name:40} {r.requests_per_second:9.0f} {r.p50_ms:8.2f} {r.p90_ms:8.2f} "
            f"{r.p99_ms:8.2f} {r.non_2xx:8d} {r.timeouts:8d}"
        )
    memory, orm = results[-2], results[-1]
    print("\nratios (throughput):")
    for r in results[2:4]:
        to_memory = r.requests_per_second / memory.requests_per_second
        to_orm = r.requests_per_second / orm.requests_per_second
        verdict = "meets" if to_memory >= 0.25 and to_orm >= 1.0 else "MISSES"
        print(
            f"  {r.name:24} {to_memory:6.1%} of memory (target >= 25%), "
            f"{to_orm:5.2f}x the ORM reference (target >= 1.0x): {verdict} the targets"
        )


if __name__ == "__main__":
    sys.exit(main())
