"""The IdentityProvider contract: every implementation behaves like this, the fake included."""

from __future__ import annotations

import pytest

from portal_core.organisations.model import Principal, Role, User
from portal_core.ports import AuthenticationFailed
from tests.contract.identity.conftest import BAD_TOKEN_KINDS, IdentityHarness, make_user

ANN = make_user("ann", "acme", Role.CLIENT_ADMIN, Role.BILLING_CONTACT)
SAM = make_user("sam", None, Role.STAFF)
ADA = make_user("ada", None, Role.ADMIN)


def signed_in(identity: IdentityHarness, user: User) -> list[Principal]:
    """The principals every token of a fresh sign-in proves."""
    return [identity.provider.verify(token) for token in identity.sign_in(user)]


@pytest.mark.parametrize("user", [ANN, SAM, ADA], ids=lambda u: u.id)
def test_an_invited_user_signs_in_with_their_roles_and_organisation(
    identity: IdentityHarness, user
):
    identity.provider.invite(user)
    tokens = identity.sign_in(user)
    assert tokens
    for token in tokens:
        assert identity.provider.verify(token) == user.as_principal()


def test_a_client_never_gets_another_organisations_scope(identity: IdentityHarness):
    gus = make_user("gus", "globex", Role.CLIENT_VIEWER)
    identity.provider.invite(ANN)
    identity.provider.invite(gus)
    [principal] = {identity.provider.verify(t) for t in identity.sign_in(gus)}
    assert principal == Principal(
        user_id="gus", organisation_id="globex", roles=frozenset({Role.CLIENT_VIEWER})
    )


def test_inviting_again_with_other_roles_changes_the_roles(identity: IdentityHarness):
    identity.provider.invite(ANN)
    viewer = make_user("ann", "acme", Role.CLIENT_VIEWER)
    identity.provider.invite(viewer)
    for token in identity.sign_in(viewer):
        assert identity.provider.verify(token).roles == frozenset({Role.CLIENT_VIEWER})


def test_a_disabled_user_cannot_sign_in_until_invited_again(identity: IdentityHarness):
    identity.provider.invite(ANN)
    identity.provider.disable(ANN.id)
    with pytest.raises(AuthenticationFailed):
        signed_in(identity, ANN)
    identity.provider.invite(ANN)
    assert {p.user_id for p in signed_in(identity, ANN)} == {ANN.id}


def test_a_token_made_like_the_bad_ones_but_right_verifies(identity: IdentityHarness):
    identity.provider.invite(ANN)
    assert identity.provider.verify(identity.crafted_valid(ANN)) == ANN.as_principal()


@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
def test_a_bad_token_is_refused_with_one_message_for_every_reason(
    identity: IdentityHarness, kind: str
):
    identity.provider.invite(ANN)
    with pytest.raises(AuthenticationFailed) as bad:
        identity.provider.verify(identity.bad_token(ANN, kind))
    with pytest.raises(AuthenticationFailed) as garbage:
        identity.provider.verify("not-a-token")
    assert str(bad.value) == str(garbage.value)
