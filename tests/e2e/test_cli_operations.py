"""The worker, billing, reminder and Salesforce commands on the embedded default."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient

from adapters.memory import FixedClock
from entrypoints.bootstrap import bootstrap
from entrypoints.cli import CLI_PRINCIPAL, main
from entrypoints.settings import Settings
from entrypoints.web.app import create_served_app
from entrypoints.worker import Worker
from portal_core.billing.contract import Grouping, HourlyTerms, TaxRule
from portal_core.billing.service import LogTime, SetContract
from portal_core.cases.model import CaseStatus
from portal_core.cases.service import ChangeStatus, SubmitCase
from portal_core.idempotency import IdempotentRequests, StoredResponse
from portal_core.organisations.model import Organisation, Principal, Role, User
from tests.e2e.conftest import container_on_fakes, settings_for

SECRET = "cli-test-secret-key-0123456789-0123456789"


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {
        "PORTAL_DATA_DIR": str(tmp_path / "var"),
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_DEMO_DATA": "false",
        "PORTAL_RUN_WORKER_IN_PROCESS": "false",
    }


def run(capsys: pytest.CaptureFixture[str], environ: dict[str, str], *argv: str) -> tuple[int, str]:
    try:
        status = main(list(argv), environ)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def client_with_a_case(
    environ: dict[str, str], *, grouping: Grouping, auto_issue: bool = False
) -> tuple[str, str]:
    """An organisation with a contract, a client, a member of staff and a submitted case with
    two hours logged last month; returns (organisation id, case id)."""
    container = bootstrap(Settings.from_env(environ))
    try:
        container.prepare_storage()
        now = container.clock.now()
        with container.uow() as uow:
            uow.organisations.add(Organisation(id="acme", name="Acme Ltd", created_at=now))
            for user in (
                User(
                    id="ann",
                    email="ann@acme.example",
                    name="Ann",
                    organisation_id="acme",
                    roles=frozenset({Role.CLIENT_ADMIN}),
                    created_at=now,
                ),
                User(
                    id="sam",
                    email="sam@firm.example",
                    name="Sam",
                    organisation_id=None,
                    roles=frozenset({Role.STAFF}),
                    created_at=now,
                ),
            ):
                uow.users.add(user)
            uow.commit()
        container.billing.set_contract(
            CLI_PRINCIPAL,
            SetContract(
                organisation_id="acme",
                terms=HourlyTerms(),
                currency="EUR",
                rates={"Senior": 150},  # type: ignore[dict-item]
                tax=TaxRule(rate_percent=20),  # type: ignore[arg-type]
                grouping=grouping,
                auto_issue=auto_issue,
            ),
        )
        ann = User(
            id="ann",
            email="ann@acme.example",
            name="Ann",
            organisation_id="acme",
            roles=frozenset({Role.CLIENT_ADMIN}),
            created_at=now,
        )
        case = container.cases.submit(
            ann.as_principal(), SubmitCase(subject="VAT return", description="Q3, please.")
        )
        last_month = container.billing.today().replace(day=1) - timedelta(days=1)
        container.billing.log_time(
            CLI_PRINCIPAL,
            LogTime(
                case_id=case.id,
                role="Senior",
                work_date=last_month,
                minutes=120,
                description="Prepared the return",
                staff_id="sam",
            ),
        )
        return "acme", case.id
    finally:
        container.close()


def test_one_worker_round_writes_the_case_to_the_case_system_and_mails_staff_and_client(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], tmp_path: Path
) -> None:
    _, case_id = client_with_a_case(environ, grouping=Grouping.PER_CASE)
    status, output = run(capsys, environ, "worker", "--once")
    assert status == 0, output
    assert "to retry later" in output
    recipients = sorted(
        line.split(":", 1)[1].strip()
        for mail in (tmp_path / "var" / "outbox").glob("*.eml")
        for line in mail.read_text().splitlines()
        if line.startswith("To:")
    )
    assert recipients == ["ann@acme.example", "sam@firm.example"]
    container = bootstrap(Settings.from_env(environ))
    try:
        with container.uow() as uow:
            case = uow.cases.get(case_id)
    finally:
        container.close()
    assert case is not None
    assert case.external_id is not None  # linked by the portal's own case system


def test_the_monthly_run_drafts_last_months_invoice_once(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    client_with_a_case(environ, grouping=Grouping.MONTHLY)
    today = datetime.now(Settings.from_env(environ).firm_time_zone).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    status, first = run(capsys, environ, "billing", "run-month", last_month)
    assert status == 0, first
    assert "1 invoices, 0 refused." in first
    assert "for acme: 360.00" in first  # 2 h at 150, plus 20 % VAT
    assert run(capsys, environ, "billing", "run-month", last_month) == (0, first)


def test_a_month_that_is_not_a_month_is_refused(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    status, output = run(capsys, environ, "billing", "run-month", "2026-13")
    assert status == 2
    assert "Traceback" not in output


def test_reminders_run_queues_nothing_when_nothing_is_due(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    assert run(capsys, environ, "reminders", "run", "--date", "2026-03-01") == (
        0,
        "0 reminders queued; the worker e-mails them.\n",
    )


def test_reconcile_says_clearly_that_salesforce_is_not_configured(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    status, output = run(
        capsys, environ, "salesforce", "reconcile", "--since", "2026-01-01T00:00:00Z"
    )
    assert status == 2
    assert "Salesforce is not configured: set PORTAL_SALESFORCE_AUTH" in output


def test_the_worker_stops_cleanly_on_sigterm(environ: dict[str, str], tmp_path: Path) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "worker"],
        env={**os.environ, **environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert worker.stdout is not None
    deadline = time.monotonic() + 30
    line = ""
    while "Worker running" not in line and time.monotonic() < deadline:
        line = worker.stdout.readline()
    worker.send_signal(signal.SIGTERM)
    try:
        assert "Worker running" in line
        assert worker.wait(timeout=15) == 0
    finally:
        worker.kill()
        worker.stdout.close()


def test_portal_serve_delivers_the_outbox_itself_in_the_embedded_default(
    environ: dict[str, str], tmp_path: Path
) -> None:
    client_with_a_case(environ, grouping=Grouping.PER_CASE)
    settings = Settings.from_env({**environ, "PORTAL_RUN_WORKER_IN_PROCESS": "true"})
    outbox = tmp_path / "var" / "outbox"
    with TestClient(create_served_app(settings)):
        deadline = time.monotonic() + 10
        while len(list(outbox.glob("*.eml"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(list(outbox.glob("*.eml"))) == 2


def test_a_case_resolved_under_a_per_case_contract_gets_its_draft_from_the_worker(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    _, case_id = client_with_a_case(environ, grouping=Grouping.PER_CASE)
    container = bootstrap(Settings.from_env(environ))
    try:
        container.cases.change_status(
            CLI_PRINCIPAL, ChangeStatus(case_id=case_id, status=CaseStatus.RESOLVED)
        )
        assert container.billing.list_invoices(CLI_PRINCIPAL, organisation_id="acme") == []
    finally:
        container.close()
    status, output = run(capsys, environ, "worker", "--once")
    assert status == 0, output
    container = bootstrap(Settings.from_env(environ))
    try:
        invoices = container.billing.list_invoices(CLI_PRINCIPAL, organisation_id="acme")
    finally:
        container.close()
    assert [(invoice.case_id, str(invoice.gross)) for invoice in invoices] == [(case_id, "360.00")]


def test_the_daily_schedules_run_once_a_day_and_again_the_next(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    container = container_on_fakes(settings_for(tmp_path), clock=clock)
    worker = Worker(container, draw=lambda: 0.0)
    first = worker.run_once()
    assert (first.reminders_sent, first.invoices_drafted) == (0, 0)
    clock.advance(timedelta(hours=3))
    again = worker.run_once()
    assert (again.reminders_sent, again.invoices_drafted) == (None, None)
    clock.advance(timedelta(days=1))
    next_day = worker.run_once()
    assert (next_day.reminders_sent, next_day.invoices_drafted) == (0, 0)


def test_an_invoice_issued_by_itself_gets_its_pdf_and_its_e_mail_from_the_worker(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], tmp_path: Path
) -> None:
    _, case_id = client_with_a_case(environ, grouping=Grouping.PER_CASE, auto_issue=True)
    container = bootstrap(Settings.from_env(environ))
    try:
        container.cases.change_status(
            CLI_PRINCIPAL, ChangeStatus(case_id=case_id, status=CaseStatus.RESOLVED)
        )
    finally:
        container.close()
    assert run(capsys, environ, "worker", "--once")[0] == 0  # drafts and issues it
    assert run(capsys, environ, "worker", "--once")[0] == 0  # prints and mails it
    container = bootstrap(Settings.from_env(environ))
    try:
        (invoice,) = container.billing.list_invoices(CLI_PRINCIPAL, organisation_id="acme")
    finally:
        container.close()
    assert invoice.number is not None
    assert invoice.document_key is not None
    subjects = [
        line
        for mail in (tmp_path / "var" / "outbox").glob("invoice_issued-*.eml")
        for line in mail.read_text().splitlines()
        if line.startswith("Subject:")
    ]
    assert subjects == [f"Subject: Invoice {invoice.number} from Harbour Lane Advisers"]


def test_the_daily_round_forgets_stored_api_responses_after_their_24_hours(
    tmp_path: Path,
) -> None:
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    container = container_on_fakes(settings_for(tmp_path), clock=clock)
    keys = IdempotentRequests(uow=container.uow, clock=clock)
    client = Principal(user_id="ann", organisation_id="acme", roles=frozenset({Role.CLIENT_ADMIN}))
    response = StoredResponse(status=201, body=b'{"id": "c1"}', content_type="application/json")
    keys.run(client, key="k-1", route="POST /cases", fingerprint="f", operation=lambda: response)
    worker = Worker(container, draw=lambda: 0.0)
    assert worker.run_once().idempotency_keys_expired == 0  # still within its 24 hours
    clock.advance(timedelta(days=1, minutes=1))
    assert worker.run_once().idempotency_keys_expired == 1
    _, replayed = keys.run(
        client, key="k-1", route="POST /cases", fingerprint="other", operation=lambda: response
    )
    assert not replayed  # the key is free again, so a different body no longer clashes
