"""The live-update, e-mail and worker settings: defaults per environment, mistakes named."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from adapters.email import LocalOutboxNotifier, SmtpNotifier
from adapters.live import (
    STAFF_CHANNEL,
    ChannelsPublisher,
    backend_publishing,
    billing_channel,
    channels_for,
    decode,
    encode,
    make_backend,
    organisation_channel,
)
from entrypoints.settings import SettingsError
from portal_core.ports import LiveUpdate
from tests.e2e.conftest import container_on_fakes, settings_for


def test_the_embedded_default_mails_to_a_local_outbox_and_runs_its_worker(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    assert settings.live_backend == "memory"
    assert settings.run_worker_in_process is True
    assert settings.mail_outbox_dir == tmp_path / "var" / "outbox"
    notifier = container_on_fakes(settings).notifier
    assert isinstance(notifier, LocalOutboxNotifier)
    assert notifier.directory == tmp_path / "var" / "outbox"


def test_production_runs_its_worker_apart_and_smtp_takes_over_when_set(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        environment="production",
        base_url="https://portal.example.com",
        smtp_host="smtp.example.com",
        smtp_username="portal",
        smtp_password="relay-password-0123",
        mail_from="Example Partners <portal@example.com>",
    )
    assert settings.run_worker_in_process is False
    assert "relay-password-0123" not in repr(settings)
    assert isinstance(container_on_fakes(settings).notifier, SmtpNotifier)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"live_backend": "kafka"}, "PORTAL_LIVE_BACKEND"),
        ({"live_backend": "redis"}, "PORTAL_REDIS_URL"),
        ({"live_backend": "postgres"}, "PORTAL_LIVE_BACKEND=postgres"),
        ({"smtp_host": "smtp.example.com"}, "PORTAL_MAIL_FROM"),
        ({"smtp_username": "portal"}, "PORTAL_SMTP_PASSWORD"),
        ({"smtp_security": "ssl"}, "PORTAL_SMTP_SECURITY"),
        ({"worker_interval_seconds": "0"}, "PORTAL_WORKER_INTERVAL_SECONDS"),
    ],
)
def test_a_wrong_setting_is_refused_by_its_name(
    tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        settings_for(tmp_path, **variables)


def test_staff_only_and_invoice_updates_never_go_to_the_whole_organisations_channel() -> None:
    public = LiveUpdate(organisation_id="acme", kind="case", case_id="c1", data={"text": "Reply"})
    note = LiveUpdate(
        organisation_id="acme", kind="case", case_id="c1", data={"text": "Note"}, staff_only=True
    )
    invoice = LiveUpdate(
        organisation_id="acme", kind="invoice", case_id=None, data={}, billing_only=True
    )
    assert channels_for(public) == [STAFF_CHANNEL, organisation_channel("acme")]
    assert channels_for(note) == [STAFF_CHANNEL]
    assert channels_for(invoice) == [STAFF_CHANNEL, billing_channel("acme")]


def test_an_update_fits_a_postgresql_notification_however_long_its_text() -> None:
    update = LiveUpdate(
        organisation_id="acme", kind="case", case_id="c1", data={"text": "é" * 9000}
    )
    encoded = encode(update)
    assert len(encoded) < 8000
    assert decode(encoded)[0] == "case"


def test_a_worker_whose_live_backend_is_unreachable_fails_at_start_and_leaves_no_thread() -> None:
    before = {thread.name for thread in threading.enumerate()}
    backend = make_backend(
        "postgres", redis_url=None, database_url="postgresql+psycopg://postgres@127.0.0.1:1/test"
    )
    with pytest.raises(psycopg.OperationalError), backend_publishing(ChannelsPublisher(), backend):
        pass
    assert "live-publisher" not in {t.name for t in threading.enumerate()} - before
