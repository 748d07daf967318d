"""Onboarding rules: organisations, their Salesforce Account and their contacts."""

from __future__ import annotations

import pytest
from attrs import frozen

from adapters.local.identity import LocalIdentityProvider
from adapters.memory import FixedClock, InMemoryIdentityProvider, InMemoryStorage, SequentialIds
from adapters.memory.identity import (
    InMemoryPasswordHasher,
    InMemoryTokenGenerator,
    InMemoryTotpVerifier,
)
from portal_core.dispatch import EventDispatcher
from portal_core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from portal_core.identity.service import LinkNotValid, SignInService
from portal_core.organisations.model import Organisation, Principal, Role, User
from portal_core.organisations.service import (
    InviteContact,
    Invited,
    InviteStaff,
    OnboardingService,
)
from portal_core.ports import AuthenticationFailed
from tests.unit.identity.builders import START

ACCOUNT = "001000000000001AAA"
OTHER_ACCOUNT = "001000000000002"
ADMIN = Principal(user_id="ada", organisation_id=None, roles=frozenset({Role.ADMIN}))
STAFF = Principal(user_id="sam", organisation_id=None, roles=frozenset({Role.STAFF}))
PASSWORD = "a long enough passphrase"


@frozen
class World:
    storage: InMemoryStorage
    sign_in: SignInService
    onboarding: OnboardingService
    acme: Organisation
    globex: Organisation


def make_world() -> World:
    storage = InMemoryStorage()
    clock = FixedClock(START)
    ids = SequentialIds()
    dispatcher = EventDispatcher()
    sign_in = SignInService(
        uow=storage.unit_of_work,
        clock=clock,
        ids=ids,
        tokens=InMemoryTokenGenerator(),
        hasher=InMemoryPasswordHasher(),
        totp=InMemoryTotpVerifier(),
        dispatcher=dispatcher,
        base_url="https://portal.example.com",
    )
    onboarding = OnboardingService(
        uow=storage.unit_of_work,
        clock=clock,
        ids=ids,
        identity=LocalIdentityProvider(sign_in),
        dispatcher=dispatcher,
    )
    with storage.unit_of_work() as uow:
        for person in (
            User(
                id="ada",
                email="ada@firm.example",
                name="Ada",
                organisation_id=None,
                roles=frozenset({Role.ADMIN}),
                created_at=START,
            ),
            User(
                id="sam",
                email="sam@firm.example",
                name="Sam",
                organisation_id=None,
                roles=frozenset({Role.STAFF}),
                created_at=START,
            ),
        ):
            uow.users.add(person)
        uow.commit()
    acme = onboarding.add_organisation(ADMIN, " Acme   Ltd ")
    globex = onboarding.add_organisation(ADMIN, "Globex GmbH")
    return World(storage, sign_in, onboarding, acme, globex)


@pytest.fixture
def world() -> World:
    return make_world()


def contact(
    world: World, email: str, *roles: Role, org: str | None = None, by: Principal = ADMIN
) -> Invited:
    return world.onboarding.invite_contact(
        by,
        InviteContact(
            organisation_id=org or world.acme.id,
            email=email,
            name="Some One",
            roles=frozenset(roles),
        ),
    )


def join(world: World, link: str | None, email: str) -> str:
    assert link is not None
    world.sign_in.accept_invitation(link.rsplit("/", 1)[1], PASSWORD)
    return world.sign_in.sign_in(email, PASSWORD, client_address="192.0.2.1").token


def actions(world: World) -> list[str]:
    return [entry.record.action for entry in world.storage.state.audit]


# --- organisations -------------------------------------------------------------------------------


def test_only_an_administrator_adds_an_organisation(world: World) -> None:
    assert world.acme.name == "Acme Ltd"
    assert actions(world)[:2] == ["organisation_added", "organisation_added"]
    with pytest.raises(PermissionDenied):
        world.onboarding.add_organisation(STAFF, "Initech")


def test_an_organisation_links_to_one_salesforce_account_and_an_account_to_one_organisation(
    world: World,
) -> None:
    linked = world.onboarding.link_account(ADMIN, world.acme.id, f" {ACCOUNT} ")
    assert linked.external_account_id == ACCOUNT
    with pytest.raises(Conflict):
        world.onboarding.link_account(ADMIN, world.globex.id, ACCOUNT)
    with pytest.raises(Conflict):
        world.onboarding.add_organisation(ADMIN, "Initech", external_account_id=ACCOUNT)
    assert world.onboarding.link_account(ADMIN, world.acme.id, None).external_account_id is None
    assert world.onboarding.link_account(ADMIN, world.globex.id, ACCOUNT).external_account_id
    last = world.storage.state.audit[-1].record
    assert (last.action, last.details["account_id"]) == ("account_linked", ACCOUNT)


@pytest.mark.parametrize("bad", ["0015000000", "003000000000001", "001000000000001!!!", ""])
def test_only_a_salesforce_account_id_can_be_linked(world: World, bad: str) -> None:
    with pytest.raises(InvalidInput):
        world.onboarding.link_account(ADMIN, world.acme.id, bad or " ")


def test_linking_takes_an_administrator_and_an_existing_organisation(world: World) -> None:
    with pytest.raises(PermissionDenied):
        world.onboarding.link_account(STAFF, world.acme.id, OTHER_ACCOUNT)
    with pytest.raises(NotFound):
        world.onboarding.link_account(ADMIN, "nope", OTHER_ACCOUNT)


# --- contacts --------------------------------------------------------------------------------------


def test_an_invited_contact_signs_in_into_their_organisation_with_their_roles(
    world: World,
) -> None:
    invited = contact(world, "Bob@Acme.example", Role.CLIENT_ADMIN, Role.BILLING_CONTACT)
    assert invited.user.organisation_id == world.acme.id
    token = join(world, invited.link, "bob@acme.example")
    principal = world.sign_in.resolve(token)
    assert principal.organisation_id == world.acme.id
    assert principal.roles == frozenset({Role.CLIENT_ADMIN, Role.BILLING_CONTACT})
    assert [m.event.kind for m in world.storage.state.outbox.values()] == ["invitation_sent"]
    assert "user_invited" in actions(world)


def test_a_contact_gets_client_roles_only_and_staff_get_staff_roles_only(world: World) -> None:
    with pytest.raises(InvalidInput):
        contact(world, "x@acme.example", Role.STAFF)
    with pytest.raises(InvalidInput):
        contact(world, "x@acme.example")
    with pytest.raises(InvalidInput):
        world.onboarding.invite_staff(
            ADMIN,
            InviteStaff(email="x@firm.example", name="X", roles=frozenset({Role.CLIENT_ADMIN})),
        )
    staff = world.onboarding.invite_staff(
        ADMIN, InviteStaff(email="tess@firm.example", name="Tess", roles=frozenset({Role.STAFF}))
    )
    assert staff.user.organisation_id is None
    with pytest.raises(PermissionDenied):
        world.onboarding.invite_staff(
            STAFF, InviteStaff(email="y@firm.example", name="Y", roles=frozenset({Role.STAFF}))
        )


def test_a_client_admin_invites_into_their_own_organisation_only(world: World) -> None:
    bob = contact(world, "bob@acme.example", Role.CLIENT_ADMIN).user.as_principal()
    vic = contact(world, "vic@acme.example", Role.CLIENT_VIEWER).user.as_principal()
    assert contact(world, "cy@acme.example", Role.CLIENT_VIEWER, by=bob).user.organisation_id
    with pytest.raises(NotFound):
        contact(world, "eve@globex.example", Role.CLIENT_ADMIN, org=world.globex.id, by=bob)
    with pytest.raises(PermissionDenied):
        contact(world, "dan@acme.example", Role.CLIENT_VIEWER, by=vic)
    with pytest.raises(PermissionDenied):
        world.onboarding.invite_staff(
            bob, InviteStaff(email="z@firm.example", name="Z", roles=frozenset({Role.ADMIN}))
        )


def test_an_address_has_one_account_whatever_its_case(world: World) -> None:
    contact(world, "bob@acme.example", Role.CLIENT_VIEWER)
    with pytest.raises(Conflict):
        contact(world, "BOB@acme.example", Role.CLIENT_VIEWER, org=world.globex.id)


def test_nobody_is_invited_into_a_missing_organisation(world: World) -> None:
    with pytest.raises(NotFound):
        contact(world, "bob@acme.example", Role.CLIENT_VIEWER, org="nope")


def test_roles_change_within_the_organisations_rules(world: World) -> None:
    bob = contact(world, "bob@acme.example", Role.CLIENT_ADMIN).user
    vic = contact(world, "vic@acme.example", Role.CLIENT_VIEWER).user
    gus = contact(world, "gus@globex.example", Role.CLIENT_ADMIN, org=world.globex.id).user
    changed = world.onboarding.change_roles(
        bob.as_principal(), vic.id, {Role.CLIENT_VIEWER, Role.BILLING_CONTACT}
    )
    assert changed.roles == frozenset({Role.CLIENT_VIEWER, Role.BILLING_CONTACT})
    assert actions(world)[-1] == "user_roles_changed"
    with pytest.raises(InvalidInput):
        world.onboarding.change_roles(ADMIN, vic.id, {Role.STAFF})
    with pytest.raises(NotFound):
        world.onboarding.change_roles(bob.as_principal(), gus.id, {Role.CLIENT_VIEWER})
    with pytest.raises(NotFound):
        world.onboarding.change_roles(bob.as_principal(), "sam", {Role.ADMIN})
    with pytest.raises(InvalidInput):
        world.onboarding.change_roles(bob.as_principal(), bob.id, {Role.CLIENT_VIEWER})


def test_removing_a_contact_ends_their_sessions_at_once(world: World) -> None:
    invited = contact(world, "bob@acme.example", Role.CLIENT_ADMIN)
    token = join(world, invited.link, "bob@acme.example")
    removed = world.onboarding.remove_contact(ADMIN, invited.user.id)
    assert not removed.active
    with pytest.raises(AuthenticationFailed):
        world.sign_in.resolve(token)
    with pytest.raises(AuthenticationFailed):
        world.sign_in.sign_in("bob@acme.example", PASSWORD, client_address="192.0.2.1")
    assert world.storage.state.sessions == {}
    assert {"user_removed", "sessions_revoked"} <= set(actions(world))


def test_a_removed_contacts_unused_invitation_is_void(world: World) -> None:
    invited = contact(world, "bob@acme.example", Role.CLIENT_VIEWER)
    world.onboarding.remove_contact(ADMIN, invited.user.id)
    assert invited.link is not None
    with pytest.raises(LinkNotValid):
        world.sign_in.accept_invitation(invited.link.rsplit("/", 1)[1], PASSWORD)


def test_nobody_removes_themselves_or_someone_of_another_organisation(world: World) -> None:
    bob = contact(world, "bob@acme.example", Role.CLIENT_ADMIN).user
    gus = contact(world, "gus@globex.example", Role.CLIENT_ADMIN, org=world.globex.id).user
    with pytest.raises(InvalidInput):
        world.onboarding.remove_contact(bob.as_principal(), bob.id)
    with pytest.raises(NotFound):
        world.onboarding.remove_contact(bob.as_principal(), gus.id)


def test_inviting_again_replaces_the_link_and_restores_a_removed_contact(world: World) -> None:
    first = contact(world, "bob@acme.example", Role.CLIENT_VIEWER)
    again = world.onboarding.resend_invitation(ADMIN, first.user.id)
    assert first.link is not None
    with pytest.raises(LinkNotValid):
        world.sign_in.accept_invitation(first.link.rsplit("/", 1)[1], PASSWORD)
    token = join(world, again.link, "bob@acme.example")
    world.onboarding.remove_contact(ADMIN, first.user.id)
    restored = world.onboarding.resend_invitation(ADMIN, first.user.id)
    assert restored.user.active
    assert restored.link is None  # they keep their password
    with pytest.raises(AuthenticationFailed):
        world.sign_in.resolve(token)  # the old session stays dead
    world.sign_in.sign_in("bob@acme.example", PASSWORD, client_address="192.0.2.1")


def test_contacts_are_listed_for_those_who_manage_them(world: World) -> None:
    bob = contact(world, "bob@acme.example", Role.CLIENT_ADMIN).user
    vic = contact(world, "vic@acme.example", Role.CLIENT_VIEWER).user
    assert {u.id for u in world.onboarding.list_contacts(ADMIN, world.acme.id)} == {bob.id, vic.id}
    assert len(world.onboarding.list_contacts(bob.as_principal(), world.acme.id)) == 2
    with pytest.raises(PermissionDenied):
        world.onboarding.list_contacts(vic.as_principal(), world.acme.id)
    with pytest.raises(NotFound):
        world.onboarding.list_contacts(bob.as_principal(), world.globex.id)
    assert world.onboarding.list_organisations(bob.as_principal()) == [world.acme]
    assert len(world.onboarding.list_organisations(STAFF)) == 2


def test_the_identity_provider_hears_of_invitations_and_removals() -> None:
    storage = InMemoryStorage()
    provider = InMemoryIdentityProvider()
    onboarding = OnboardingService(
        uow=storage.unit_of_work,
        clock=FixedClock(START),
        ids=SequentialIds(),
        identity=provider,
        dispatcher=EventDispatcher(),
    )
    acme = onboarding.add_organisation(ADMIN, "Acme")
    invited = onboarding.invite_contact(
        ADMIN,
        InviteContact(
            organisation_id=acme.id,
            email="bob@acme.example",
            name="Bob",
            roles=frozenset({Role.CLIENT_VIEWER}),
        ),
    )
    assert invited.link is None
    assert provider.invited == [invited.user]
    onboarding.remove_contact(ADMIN, invited.user.id)
    assert provider.disabled == {invited.user.id}
