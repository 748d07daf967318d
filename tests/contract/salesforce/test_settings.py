"""Salesforce settings: off unless asked for, complete when on, secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from adapters.salesforce import (
    AuthFlow,
    SalesforceSettings,
    SalesforceSettingsError,
    build_salesforce,
)
from portal_core.cases.model import CaseStatus
from tests.contract.salesforce.emulator import LOGIN_URL, ORGANIZATION_ID, SalesforceEmulator
from tests.contract.salesforce.fixtures import CONSUMER_KEY, USERNAME, KeyPair


def test_without_an_auth_flow_salesforce_is_off() -> None:
    assert SalesforceSettings.from_env({}) is None


def test_a_missing_setting_is_named() -> None:
    with pytest.raises(SalesforceSettingsError, match="PORTAL_SALESFORCE_CLIENT_SECRET"):
        SalesforceSettings.from_env(
            {
                "PORTAL_SALESFORCE_AUTH": "client_credentials",
                "PORTAL_SALESFORCE_ORGANIZATION_ID": ORGANIZATION_ID,
                "PORTAL_SALESFORCE_DOMAIN_URL": "https://acme.my.salesforce.com",
                "PORTAL_SALESFORCE_CLIENT_ID": "id",
            }
        )


def test_an_unknown_flow_is_refused() -> None:
    with pytest.raises(SalesforceSettingsError, match="jwt"):
        SalesforceSettings.from_env({"PORTAL_SALESFORCE_AUTH": "password"})


def test_jwt_settings_wire_a_working_adapter(
    tmp_path: Path, key_pair: KeyPair, emulator: SalesforceEmulator
) -> None:
    key_file = tmp_path / "portal.key"
    key_file.write_text(key_pair.private_pem)
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(json.dumps({"status_aliases": {"Escalated": "in_progress"}}))
    settings = SalesforceSettings.from_env(
        {
            "PORTAL_SALESFORCE_AUTH": "jwt",
            "PORTAL_SALESFORCE_ORGANIZATION_ID": ORGANIZATION_ID,
            "PORTAL_SALESFORCE_LOGIN_URL": LOGIN_URL,
            "PORTAL_SALESFORCE_CONSUMER_KEY": CONSUMER_KEY,
            "PORTAL_SALESFORCE_USERNAME": USERNAME,
            "PORTAL_SALESFORCE_PRIVATE_KEY_FILE": str(key_file),
            "PORTAL_SALESFORCE_MAPPING_FILE": str(mapping_file),
            "PORTAL_SALESFORCE_EVENT_SECRETS": "relay-secret-1, relay-secret-2",
        }
    )
    assert settings is not None
    assert settings.auth is AuthFlow.JWT
    assert settings.event_secrets == ("relay-secret-1", "relay-secret-2")
    assert "PRIVATE KEY" not in repr(settings)
    assert "relay-secret" not in repr(settings)
    assert settings.mapping.status_from("Escalated") is CaseStatus.IN_PROGRESS
    with httpx.Client(transport=emulator.transport()) as client:
        wiring = build_salesforce(settings, client, sleep=lambda _: None)
        assert wiring.case_system.fetch("500000000000001AAA") is None
    assert emulator.tokens_issued == 1
