"""Invitations, password resets and the TOTP second factor, through the SignInService."""

from __future__ import annotations

from datetime import timedelta

import pytest
from attrs import evolve

from portal_core.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from portal_core.identity.events import InvitationSent, PasswordResetRequested
from portal_core.identity.service import (
    INVITATION_PATH,
    PASSWORD_RESET_PATH,
    SIGN_IN_FAILED,
    LinkNotValid,
    SignedIn,
)
from portal_core.ports import AuthenticationFailed
from tests.unit.identity.builders import BASE_URL, PASSWORD, World, make_world

NEW_PASSWORD = "a much longer new passphrase"


@pytest.fixture
def world() -> World:
    return make_world()


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def sign_in(world: World, email: str, password: str, *, code: str | None = None) -> SignedIn:
    return world.service.sign_in(email, password, client_address="192.0.2.1", totp_code=code)


def queued(world: World) -> list[object]:
    return [m.event for m in world.storage.state.outbox.values()]


# --- invitations -----------------------------------------------------------------------------


def test_an_invited_contact_sets_a_password_through_the_link_and_can_sign_in(world: World) -> None:
    link = world.service.send_invitation("ivy", actor_id="ada")
    assert link.startswith(f"{BASE_URL}{INVITATION_PATH}")
    world.service.accept_invitation(token_of(link), NEW_PASSWORD)
    assert sign_in(world, "ivy@example.com", NEW_PASSWORD).principal.user_id == "ivy"


def test_the_invitation_is_queued_for_e_mail_but_never_audited_with_its_link(world: World) -> None:
    link = world.service.send_invitation("ivy", actor_id="ada")
    [sent] = queued(world)
    assert isinstance(sent, InvitationSent)
    assert (sent.email, sent.link, sent.actor_id) == ("ivy@example.com", link, "ada")
    assert token_of(link) not in repr(sent)
    assert token_of(link) not in repr([e.record for e in world.storage.state.audit])
    assert token_of(link) not in repr(world.storage.state.one_time_tokens)


def test_an_invitation_link_works_only_once(world: World) -> None:
    token = token_of(world.service.send_invitation("ivy", actor_id="ada"))
    world.service.accept_invitation(token, NEW_PASSWORD)
    with pytest.raises(LinkNotValid):
        world.service.accept_invitation(token, "yet another passphrase")
    sign_in(world, "ivy@example.com", NEW_PASSWORD)


def test_an_invitation_link_expires(world: World) -> None:
    token = token_of(world.service.send_invitation("ivy", actor_id="ada"))
    world.clock.advance(world.service.policy.invitation_lifetime)
    with pytest.raises(LinkNotValid):
        world.service.accept_invitation(token, NEW_PASSWORD)


def test_a_new_invitation_replaces_the_old_link(world: World) -> None:
    old = token_of(world.service.send_invitation("ivy", actor_id="ada"))
    new = token_of(world.service.send_invitation("ivy", actor_id="ada"))
    with pytest.raises(LinkNotValid):
        world.service.accept_invitation(old, NEW_PASSWORD)
    world.service.accept_invitation(new, NEW_PASSWORD)


def test_someone_who_has_signed_up_is_not_invited_again(world: World) -> None:
    with pytest.raises(InvalidTransition):
        world.service.send_invitation("ann", actor_id="ada")


def test_a_link_for_a_since_disabled_user_does_not_work(world: World) -> None:
    token = token_of(world.service.send_invitation("ivy", actor_id="ada"))
    with world.storage.unit_of_work() as uow:
        uow.users.update(evolve(world.ivy, active=False))
        uow.commit()
    with pytest.raises(LinkNotValid):
        world.service.accept_invitation(token, NEW_PASSWORD)


def test_a_made_up_or_reset_link_is_no_invitation(world: World) -> None:
    with pytest.raises(LinkNotValid):
        world.service.accept_invitation("token-999999", NEW_PASSWORD)
    world.service.request_password_reset("ann@example.com")
    [requested] = queued(world)
    assert isinstance(requested, PasswordResetRequested)
    with pytest.raises(LinkNotValid):
        world.service.accept_invitation(token_of(requested.link), NEW_PASSWORD)


@pytest.mark.parametrize(
    "password",
    ["too short", "ivy@example.com", "IVY@EXAMPLE.COM", "password1234", "aaaaaaaaaaaaaaa"],
)
def test_a_weak_password_is_refused_and_the_link_still_works(world: World, password: str) -> None:
    token = token_of(world.service.send_invitation("ivy", actor_id="ada"))
    with pytest.raises(InvalidInput) as refused:
        world.service.accept_invitation(token, password)
    assert not isinstance(refused.value, LinkNotValid)
    world.service.accept_invitation(token, NEW_PASSWORD)


# --- password resets ---------------------------------------------------------------------------


def test_a_reset_request_answers_the_same_for_an_unknown_address_and_sends_nothing(
    world: World,
) -> None:
    assert world.service.request_password_reset("nobody@example.com") is None
    assert queued(world) == []
    assert world.service.request_password_reset("ANN@example.com") is None
    [requested] = queued(world)
    assert isinstance(requested, PasswordResetRequested)
    assert requested.email == "ann@example.com"
    assert requested.link.startswith(f"{BASE_URL}{PASSWORD_RESET_PATH}")


def test_a_password_reset_sets_the_new_password_and_ends_every_session(world: World) -> None:
    session = sign_in(world, "ann@example.com", PASSWORD)
    world.service.request_password_reset("ann@example.com")
    [requested] = queued(world)
    assert isinstance(requested, PasswordResetRequested)
    world.service.complete_password_reset(token_of(requested.link), NEW_PASSWORD)
    with pytest.raises(AuthenticationFailed):
        world.service.resolve(session.token)
    with pytest.raises(AuthenticationFailed):
        sign_in(world, "ann@example.com", PASSWORD)
    sign_in(world, "ann@example.com", NEW_PASSWORD)
    with pytest.raises(LinkNotValid):
        world.service.complete_password_reset(token_of(requested.link), "third passphrase here")
    kinds = [m.event.kind for m in world.storage.state.outbox.values()]
    assert kinds == ["password_reset_requested", "password_changed"]


def test_asking_again_at_once_sends_no_second_reset_e_mail(world: World) -> None:
    world.service.request_password_reset("ann@example.com")
    world.clock.advance(world.service.policy.password_reset_cooldown - timedelta(seconds=1))
    world.service.request_password_reset("ann@example.com")
    assert len(queued(world)) == 1
    world.clock.advance(timedelta(seconds=1))
    world.service.request_password_reset("ann@example.com")
    first, second = queued(world)
    assert isinstance(first, PasswordResetRequested)
    assert isinstance(second, PasswordResetRequested)
    with pytest.raises(LinkNotValid):  # the newer link replaced the older
        world.service.complete_password_reset(token_of(first.link), NEW_PASSWORD)
    world.service.complete_password_reset(token_of(second.link), NEW_PASSWORD)


def test_a_reset_link_expires_after_an_hour(world: World) -> None:
    world.service.request_password_reset("ann@example.com")
    [requested] = queued(world)
    assert isinstance(requested, PasswordResetRequested)
    world.clock.advance(timedelta(hours=1))
    with pytest.raises(LinkNotValid):
        world.service.complete_password_reset(token_of(requested.link), NEW_PASSWORD)


# --- the second factor -------------------------------------------------------------------------


def enrol(world: World) -> str:
    ann = world.ann.as_principal()
    enrolment = world.service.begin_totp_enrolment(ann)
    assert enrolment.provisioning_uri.startswith("otpauth://totp/")
    world.service.confirm_totp(ann, world.totp.code_at(enrolment.secret, world.clock.now()))
    return enrolment.secret


def test_once_enrolled_a_sign_in_needs_the_current_code(world: World) -> None:
    secret = enrol(world)
    world.clock.advance(timedelta(seconds=30))
    with pytest.raises(AuthenticationFailed) as no_code:
        sign_in(world, "ann@example.com", PASSWORD)
    assert str(no_code.value) == SIGN_IN_FAILED
    with pytest.raises(AuthenticationFailed):
        sign_in(world, "ann@example.com", PASSWORD, code="000000")
    signed_in = sign_in(
        world, "ann@example.com", PASSWORD, code=world.totp.code_at(secret, world.clock.now())
    )
    assert signed_in.session.second_factor_done


def test_a_code_is_accepted_once_even_within_its_own_time_step(world: World) -> None:
    secret = enrol(world)
    world.clock.advance(timedelta(seconds=30))
    code = world.totp.code_at(secret, world.clock.now())
    sign_in(world, "ann@example.com", PASSWORD, code=code)
    with pytest.raises(AuthenticationFailed):
        sign_in(world, "ann@example.com", PASSWORD, code=code)


def test_the_code_confirming_enrolment_cannot_be_replayed_to_sign_in(world: World) -> None:
    ann = world.ann.as_principal()
    enrolment = world.service.begin_totp_enrolment(ann)
    code = world.totp.code_at(enrolment.secret, world.clock.now())
    world.service.confirm_totp(ann, code)
    with pytest.raises(AuthenticationFailed):
        sign_in(world, "ann@example.com", PASSWORD, code=code)


def test_a_code_from_one_step_either_side_is_accepted_but_not_older(world: World) -> None:
    secret = enrol(world)
    world.clock.advance(timedelta(minutes=5))
    now = world.clock.now()
    with pytest.raises(AuthenticationFailed):
        sign_in(
            world,
            "ann@example.com",
            PASSWORD,
            code=world.totp.code_at(secret, now - timedelta(seconds=60)),
        )
    sign_in(
        world,
        "ann@example.com",
        PASSWORD,
        code=world.totp.code_at(secret, now - timedelta(seconds=30)),
    )


def test_enrolment_counts_only_once_a_code_is_confirmed(world: World) -> None:
    ann = world.ann.as_principal()
    enrolment = world.service.begin_totp_enrolment(ann)
    sign_in(world, "ann@example.com", PASSWORD)  # not yet required
    right = world.totp.code_at(enrolment.secret, world.clock.now())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(InvalidInput):
        world.service.confirm_totp(ann, wrong)
    sign_in(world, "ann@example.com", PASSWORD)


def test_turning_the_second_factor_off_takes_a_current_code(world: World) -> None:
    secret = enrol(world)
    ann = world.ann.as_principal()
    world.clock.advance(timedelta(seconds=30))
    with pytest.raises(InvalidInput):
        world.service.disable_totp(ann, "000000")
    world.service.disable_totp(ann, world.totp.code_at(secret, world.clock.now()))
    sign_in(world, "ann@example.com", PASSWORD)
    kinds = [m.event.kind for m in world.storage.state.outbox.values()]
    assert kinds == ["second_factor_enabled", "second_factor_disabled"]


def test_only_an_administrator_removes_a_lost_authenticator_and_sessions_end(world: World) -> None:
    enrol(world)
    world.clock.advance(timedelta(seconds=30))
    with pytest.raises(PermissionDenied):
        world.service.remove_second_factor(world.ann.as_principal(), "ann")
    world.service.remove_second_factor(world.ada.as_principal(), "ann")
    sign_in(world, "ann@example.com", PASSWORD)
    with pytest.raises(NotFound):
        world.service.remove_second_factor(world.ada.as_principal(), "ivy")
