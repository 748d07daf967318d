"""Organisations and contacts through the API: administrators onboard; a client admin manages
their own organisation's contacts and nobody else's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.api_support import API, World, build_world, problem


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def test_an_admin_adds_an_organisation_and_invites_its_first_contact(world: World) -> None:
    ada = world.bearer(world.admin)
    with world.client() as client:
        added = client.post(
            f"{API}/organisations",
            json={"name": "  Initech   Ltd ", "external_account_id": "001000000000001AAA"},
            headers=ada,
        )
        assert added.status_code == 201, added.text
        organisation = added.json()
        assert organisation["name"] == "Initech Ltd"
        invited = client.post(
            f"{API}/organisations/{organisation['id']}/contacts",
            json={"email": "peter@initech.example", "name": "Peter", "roles": ["client_admin"]},
            headers=ada,
        )
        assert invited.status_code == 201, invited.text
        assert invited.json()["roles"] == ["client_admin"]
        assert "link" not in invited.json()
        names = {o["name"] for o in client.get(f"{API}/organisations", headers=ada).json()["items"]}
        assert names == {"Acme", "Globex", "Initech Ltd"}
        bad_account = client.post(
            f"{API}/organisations", json={"name": "X", "external_account_id": "123"}, headers=ada
        )
        assert bad_account.status_code == 422
        assert problem(bad_account)["code"] == "invalid_input"
        staff = client.post(
            f"{API}/organisations", json={"name": "Y"}, headers=world.bearer(world.staff)
        )
        assert staff.status_code == 403


def test_a_client_admin_manages_their_own_contacts_only(world: World) -> None:
    ann = world.bearer(world.acme.client_admin)
    with world.client() as client:
        own = client.get(f"{API}/organisations", headers=ann).json()["items"]
        assert [o["id"] for o in own] == ["acme"]
        invited = client.post(
            f"{API}/organisations/acme/contacts",
            json={"email": "new@acme.example", "name": "New", "roles": ["client_viewer"]},
            headers=ann,
        ).json()
        promoted = client.patch(
            f"{API}/contacts/{invited['id']}/roles",
            json={"roles": ["client_viewer", "billing_contact"]},
            headers=ann,
        )
        assert promoted.json()["roles"] == ["billing_contact", "client_viewer"]
        as_staff = client.patch(
            f"{API}/contacts/{invited['id']}/roles", json={"roles": ["admin"]}, headers=ann
        )
        assert as_staff.status_code == 422
        removed = client.delete(f"{API}/contacts/{invited['id']}", headers=ann)
        assert removed.status_code == 200
        assert removed.json()["active"] is False
        contacts = client.get(f"{API}/organisations/acme/contacts", headers=ann).json()["items"]
        assert {c["email"] for c in contacts} >= {"new@acme.example"}
        yourself = client.delete(f"{API}/contacts/{world.acme.client_admin.id}", headers=ann)
        assert yourself.status_code == 422
        billing = world.bearer(world.acme.billing_contact)
        not_admin = client.get(f"{API}/organisations/acme/contacts", headers=billing)
        assert not_admin.status_code == 403
