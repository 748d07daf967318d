"""Onboarding from the CLI on the embedded default (SQLite in a temporary data directory):
an organisation, its Salesforce Account, its contract, its contacts; removal ends sessions."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from entrypoints.bootstrap import Container, bootstrap
from entrypoints.cli import main
from entrypoints.settings import Settings
from portal_core.ports import AuthenticationFailed

SECRET = "cli-test-secret-key-0123456789-0123456789"
PASSWORD = "tangerine-otter-lighthouse-47"
ACCOUNT = "001000000000001AAA"


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {
        "PORTAL_DATA_DIR": str(tmp_path / "var"),
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_DEMO_DATA": "false",
    }


def run(capsys: pytest.CaptureFixture[str], environ: dict[str, str], *argv: str) -> tuple[int, str]:
    try:
        status = main(list(argv), environ)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


@contextmanager
def portal(environ: dict[str, str]) -> Iterator[Container]:
    container = bootstrap(Settings.from_env(environ))
    try:
        yield container
    finally:
        container.close()


def added_organisation(capsys: pytest.CaptureFixture[str], environ: dict[str, str]) -> str:
    status, output = run(capsys, environ, "org", "add", "Acme Ltd", "--account", ACCOUNT)
    assert status == 0, output
    found = re.search(r"added: (\S+)$", output.strip())
    assert found is not None
    return found.group(1)


def test_an_organisation_is_added_linked_and_unlinked_from_its_account(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    organisation_id = added_organisation(capsys, environ)
    assert run(capsys, environ, "org", "link-account", organisation_id, "none") == (
        0,
        "Acme Ltd is linked to no Salesforce Account.\n",
    )
    assert run(capsys, environ, "org", "link-account", organisation_id, ACCOUNT) == (
        0,
        f"Acme Ltd mirrors Salesforce Account {ACCOUNT}.\n",
    )
    with portal(environ) as container, container.uow() as uow:
        stored = uow.organisations.get(organisation_id)
    assert stored is not None
    assert stored.external_account_id == ACCOUNT


def test_an_account_id_that_is_not_salesforces_is_refused_with_its_reason(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    status, output = run(capsys, environ, "org", "add", "Acme Ltd", "--account", "0019")
    assert status == 1
    assert "is not a Salesforce Account id" in output
    assert "Traceback" not in output


def test_a_contract_is_set_with_rates_per_role(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    organisation_id = added_organisation(capsys, environ)
    status, output = run(
        capsys,
        environ,
        "contract",
        "set",
        organisation_id,
        "--kind=hourly",
        "--currency=eur",
        "--rate",
        "Senior=180",
        "--rate",
        "Associate=120.50",
        "--tax-rate=20",
        "--grouping=monthly",
    )
    assert status == 0, output
    assert "hourly, EUR, monthly, rates Associate 120.50, Senior 180." in output
    status, output = run(
        capsys, environ, "contract", "set", organisation_id, "--kind=hourly", "--currency=EUR",
        "--rate", "Senior",
    )  # fmt: skip
    assert status == 2
    assert "--rate takes NAME=AMOUNT" in output


def test_an_invited_contact_gets_the_link_printed_and_e_mailed_by_the_worker(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], tmp_path: Path
) -> None:
    organisation_id = added_organisation(capsys, environ)
    status, output = run(
        capsys, environ, "contact", "invite", organisation_id, "ann@acme.example", "Ann Smith",
        "--role", "client_admin", "--role", "billing_contact",
    )  # fmt: skip
    assert status == 0, output
    link = re.search(r"Invitation link \(also e-mailed\): (\S+)", output)
    assert link is not None

    status, output = run(capsys, environ, "worker", "--once")
    assert status == 0, output
    mails = list((tmp_path / "var" / "outbox").glob("*.eml"))
    assert len(mails) == 1
    message = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "ann@acme.example"
    assert link.group(1) in message.get_body().get_content()  # type: ignore[union-attr]

    run(capsys, environ, "worker", "--once")
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 1


def test_removing_a_contact_ends_their_sessions_at_once(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    organisation_id = added_organisation(capsys, environ)
    status, output = run(
        capsys, environ, "contact", "invite", organisation_id, "ann@acme.example", "Ann",
        "--role", "client_admin",
    )  # fmt: skip
    assert status == 0, output
    link = re.search(r"Invitation link \(also e-mailed\): \S+/(\S+)$", output.strip())
    user = re.search(r": (\S+)\n", output)
    assert link is not None
    assert user is not None
    with portal(environ) as container:
        container.sign_in.accept_invitation(link.group(1), PASSWORD)
        token = container.sign_in.sign_in(
            "ann@acme.example", PASSWORD, client_address="127.0.0.1"
        ).token
        assert container.sign_in.resolve(token).user_id == user.group(1)

    assert run(capsys, environ, "contact", "remove", user.group(1)) == (
        0,
        "Removed Ann <ann@acme.example>; their sessions have ended.\n",
    )
    with portal(environ) as container, pytest.raises(AuthenticationFailed):
        container.sign_in.resolve(token)
