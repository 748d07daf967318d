"""Cognito token checks in detail: each refusal logs its own reason (never the token), keys
are cached, groups map to roles by the documented convention."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import httpx
import jwt
import pytest
from attrs import evolve
from cryptography.hazmat.primitives import serialization

from adapters.cognito import (
    CognitoIdentityProvider,
    CognitoSettings,
    JwksKeys,
    principal_from_groups,
)
from portal_core.organisations.model import Principal, Role
from portal_core.ports import AuthenticationFailed
from tests.contract.identity.conftest import (
    TEST_KID,
    CognitoPool,
    IdentityHarness,
    craft,
    id_claims,
    make_user,
)

ANN = make_user("ann", "acme", Role.CLIENT_ADMIN)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("forged_signature", "InvalidSignatureError"),
        ("wrong_issuer", "InvalidIssuerError"),
        ("wrong_audience", "id token is for another client"),
        ("expired", "ExpiredSignatureError"),
        ("wrong_token_use", "token_use 'refresh' is not accepted"),
        ("alg_none", "algorithm 'none' is not RS256"),
        ("unknown_kid", "unknown key id 'no-such-key'"),
        ("not_a_token", "malformed token"),
    ],
)
def test_each_refusal_logs_its_reason_but_never_the_token(
    cognito_identity: IdentityHarness, caplog: pytest.LogCaptureFixture, kind: str, reason: str
):
    token = cognito_identity.bad_token(ANN, kind)
    with caplog.at_level(logging.WARNING), pytest.raises(AuthenticationFailed):
        cognito_identity.provider.verify(token)
    assert reason in caplog.text
    assert token not in caplog.text


def provider_for(pool: CognitoPool, client, **changes) -> CognitoIdentityProvider:
    settings = evolve(pool.settings, **changes)
    return CognitoIdentityProvider(client, settings, JwksKeys(pool.http, settings.jwks_url))


def test_an_access_token_for_another_app_client_is_refused(
    cognito_pool: CognitoPool, cognito_client, signing_keys, caplog
):
    claims = id_claims(cognito_pool, ANN, token_use="access", aud=None, client_id="other-client")
    claims["username"] = claims.pop("cognito:username")
    provider = provider_for(cognito_pool, cognito_client)
    with caplog.at_level(logging.WARNING), pytest.raises(AuthenticationFailed):
        provider.verify(craft(signing_keys[0], claims))
    assert "access token is for another client" in caplog.text
    claims["client_id"] = cognito_pool.client_id
    assert provider.verify(craft(signing_keys[0], claims)) == ANN.as_principal()


def test_an_id_token_is_refused_where_only_access_tokens_are_accepted(
    cognito_pool: CognitoPool, cognito_client, signing_keys
):
    provider = provider_for(cognito_pool, cognito_client, token_uses=frozenset({"access"}))
    with pytest.raises(AuthenticationFailed):
        provider.verify(craft(signing_keys[0], id_claims(cognito_pool, ANN)))


def test_expiry_allows_only_the_configured_clock_skew(
    cognito_pool: CognitoPool, cognito_client, signing_keys
):
    provider = provider_for(cognito_pool, cognito_client, leeway_seconds=30)
    now = int(time.time())
    just = craft(signing_keys[0], id_claims(cognito_pool, ANN, iat=now - 400, exp=now - 20))
    assert provider.verify(just).user_id == "ann"
    late = craft(signing_keys[0], id_claims(cognito_pool, ANN, iat=now - 400, exp=now - 40))
    with pytest.raises(AuthenticationFailed):
        provider.verify(late)


def test_a_token_without_expiry_is_refused(cognito_pool: CognitoPool, cognito_client, signing_keys):
    provider = provider_for(cognito_pool, cognito_client)
    claims = id_claims(cognito_pool, ANN)
    del claims["exp"]
    with pytest.raises(AuthenticationFailed):
        provider.verify(craft(signing_keys[0], claims))


def test_an_hmac_token_keyed_with_the_public_key_is_refused(
    cognito_pool: CognitoPool, cognito_client, signing_keys
):
    public_pem = (
        signing_keys[0]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "kid": TEST_KID, "typ": "JWT"}
    payload = id_claims(cognito_pool, ANN)
    signing_input = b".".join(
        jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, payload)
    )
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()
    with pytest.raises(AuthenticationFailed):
        provider_for(cognito_pool, cognito_client).verify(token)


def test_keys_are_fetched_once_and_unknown_kids_do_not_hammer_the_key_url(
    cognito_pool: CognitoPool, cognito_client, signing_keys
):
    clock = [1000.0]
    keys = JwksKeys(
        cognito_pool.http,
        cognito_pool.settings.jwks_url,
        refetch_interval=300,
        monotonic=lambda: clock[0],
    )
    provider = CognitoIdentityProvider(cognito_client, cognito_pool.settings, keys)
    for _ in range(3):
        provider.verify(craft(signing_keys[0], id_claims(cognito_pool, ANN)))
    assert len(cognito_pool.jwks_fetches) == 1
    for n in range(20):
        with pytest.raises(AuthenticationFailed):
            provider.verify(
                craft(signing_keys[0], id_claims(cognito_pool, ANN), kid=f"made-up-{n}")
            )
    assert len(cognito_pool.jwks_fetches) == 1
    clock[0] += 300
    with pytest.raises(AuthenticationFailed):
        provider.verify(craft(signing_keys[0], id_claims(cognito_pool, ANN), kid="rotated-in"))
    assert len(cognito_pool.jwks_fetches) == 2


def test_an_unreachable_key_url_refuses_tokens_rather_than_failing(
    cognito_pool: CognitoPool, cognito_client, signing_keys, caplog
):
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    with httpx.Client(transport=httpx.MockTransport(down)) as http:
        provider = CognitoIdentityProvider(
            cognito_client, cognito_pool.settings, JwksKeys(http, "https://keys.test/jwks.json")
        )
        with caplog.at_level(logging.WARNING), pytest.raises(AuthenticationFailed):
            provider.verify(craft(signing_keys[0], id_claims(cognito_pool, ANN)))
    assert "could not fetch the token signing keys" in caplog.text


def test_moto_publishes_its_keys_where_the_settings_say(
    cognito_pool: CognitoPool, cognito_endpoint
):
    keys = httpx.get(f"{cognito_endpoint}/{cognito_pool.pool_id}/.well-known/jwks.json").json()
    assert {key["kid"] for key in keys["keys"]}
    assert CognitoSettings.for_pool(
        region="eu-west-1", user_pool_id="eu-west-1_abc", client_id="c"
    ).jwks_url == (
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"
    )


# --- groups to roles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (["staff"], Principal(user_id="u", organisation_id=None, roles={Role.STAFF})),
        (
            ["admin", "staff"],
            Principal(user_id="u", organisation_id=None, roles={Role.ADMIN, Role.STAFF}),
        ),
        (
            ["org:acme:client_admin", "org:acme:billing_contact", "beta-testers"],
            Principal(
                user_id="u", organisation_id="acme", roles={Role.CLIENT_ADMIN, Role.BILLING_CONTACT}
            ),
        ),
        (
            ["org:a:b:client_viewer"],
            Principal(user_id="u", organisation_id="a:b", roles={Role.CLIENT_VIEWER}),
        ),
    ],
)
def test_groups_name_roles_and_the_organisation(groups: list[str], expected: Principal):
    assert principal_from_groups("u", groups) == expected


@pytest.mark.parametrize(
    "groups",
    [
        [],
        ["beta-testers", "org:acme:owner", "org::client_admin"],
        ["staff", "org:acme:client_admin"],
        ["org:acme:client_admin", "org:globex:client_viewer"],
    ],
)
def test_groups_that_give_no_role_or_a_confused_one_prove_nothing(groups: list[str]):
    with pytest.raises(AuthenticationFailed):
        principal_from_groups("u", groups)


def test_invite_creates_an_organisations_group_and_drops_stale_ones(
    cognito_identity: IdentityHarness, cognito_pool: CognitoPool, cognito_client
):
    cognito_identity.provider.invite(ANN)
    cognito_identity.provider.invite(make_user("ann", "acme", Role.CLIENT_VIEWER))
    groups = cognito_client.admin_list_groups_for_user(
        UserPoolId=cognito_pool.pool_id, Username="ann"
    )["Groups"]
    assert [g["GroupName"] for g in groups] == ["org:acme:client_viewer"]
    user = cognito_client.admin_get_user(UserPoolId=cognito_pool.pool_id, Username="ann")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["email"] == "ann@example.com"


def test_disable_turns_the_user_off_in_the_pool(
    cognito_identity: IdentityHarness, cognito_pool: CognitoPool, cognito_client
):
    cognito_identity.provider.invite(ANN)
    cognito_identity.provider.disable("ann")
    user = cognito_client.admin_get_user(UserPoolId=cognito_pool.pool_id, Username="ann")
    assert user["Enabled"] is False
