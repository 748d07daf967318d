"""One identity provider per implementation behind one fixture: the in-memory fake and Cognito
on moto's server (started once per session, a new user pool per test).

Each harness signs a user in the way that provider's users do (`sign_in`), and makes tokens
that must be refused (`bad_token`). For Cognito the bad tokens are crafted here with PyJWT and
an RSA key of this suite, published next to moto's keys in the JWKS the provider reads: a
crafted token with every claim right verifies (`crafted_valid`), so each bad one fails for
the one claim it gets wrong. Another implementation (local sign-in) adds its harness here.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import jwt
import pytest
from attrs import frozen
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.cognito import CognitoIdentityProvider, CognitoSettings, JwksKeys, group_for
from adapters.memory import InMemoryIdentityProvider
from portal_core.organisations.model import Role, User
from portal_core.ports import AuthenticationFailed, IdentityProvider
from tests.contract.files.moto_service import CREDENTIALS, REGION, running_moto

BAD_TOKEN_KINDS = (
    "forged_signature",
    "wrong_issuer",
    "wrong_audience",
    "expired",
    "wrong_token_use",
    "alg_none",
    "unknown_kid",
    "not_a_token",
)
TEST_KID = "contract-suite-key"
JWKS_URL = "https://keys.test/jwks.json"
PASSWORD = "Correct-Horse-9-battery"


def make_user(uid: str, organisation_id: str | None, *roles: Role) -> User:
    return User(
        id=uid,
        email=f"{uid}@example.com",
        name=uid.title(),
        organisation_id=organisation_id,
        roles=frozenset(roles),
        created_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )


@frozen
class IdentityHarness:
    name: str
    provider: IdentityProvider
    sign_in: Callable[[User], tuple[str, ...]]
    """Every token a fresh sign-in of `user` gives; AuthenticationFailed if it is refused."""
    bad_token: Callable[[User, str], str]
    """A token for `user` that is wrong in the way the kind names."""
    crafted_valid: Callable[[User], str]
    """A token made the way `bad_token` makes them, with nothing wrong."""


@pytest.fixture
def memory_identity() -> IdentityHarness:
    provider = InMemoryIdentityProvider()

    def sign_in(user: User) -> tuple[str, ...]:
        return (provider.issue_token(user),)

    def bad_token(user: User, kind: str) -> str:
        # The fake knows only the tokens it issued: any other string is a forgery to it.
        return f"{provider.issue_token(user)}-{kind}" if kind != "not_a_token" else kind

    return IdentityHarness("memory", provider, sign_in, bad_token, provider.issue_token)


# --- Cognito on moto ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cognito_endpoint() -> Iterator[str]:
    with running_moto() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def cognito_client(cognito_endpoint: str):
    return boto3.client(
        "cognito-idp", endpoint_url=cognito_endpoint, region_name=REGION, **CREDENTIALS
    )


@pytest.fixture(scope="session")
def signing_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The suite's key, published in the JWKS, and a forger's key that is not."""
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@frozen
class CognitoPool:
    pool_id: str
    client_id: str
    settings: CognitoSettings
    jwks_fetches: list[str]
    http: httpx.Client


@frozen
class PoolIds:
    pool_id: str
    client_id: str


@pytest.fixture(scope="session")
def cognito_pool_ids(cognito_client) -> PoolIds:
    """One pool for the session: moto takes a good part of a second to make one."""
    pool_id = cognito_client.create_user_pool(PoolName="portal")["UserPool"]["Id"]
    client_id = cognito_client.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="portal",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return PoolIds(pool_id, client_id)


def empty_pool(client, pool_id: str) -> None:
    for user in client.list_users(UserPoolId=pool_id)["Users"]:
        client.admin_delete_user(UserPoolId=pool_id, Username=user["Username"])
    for group in client.list_groups(UserPoolId=pool_id)["Groups"]:
        client.delete_group(UserPoolId=pool_id, GroupName=group["GroupName"])


@pytest.fixture
def cognito_pool(
    cognito_client, cognito_pool_ids: PoolIds, cognito_endpoint: str, signing_keys
) -> Iterator[CognitoPool]:
    pool_id, client_id = cognito_pool_ids.pool_id, cognito_pool_ids.client_id
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    moto_jwks_url = f"{cognito_endpoint}/{pool_id}/.well-known/jwks.json"
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_keys[0].public_key()))
    public.update(kid=TEST_KID, alg="RS256", use="sig")
    fetches: list[str] = []

    def serve_keys(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == JWKS_URL
        fetches.append(str(request.url))
        # moto's own keys, from where moto's server publishes them, plus the suite's key.
        moto_keys = httpx.get(moto_jwks_url).raise_for_status().json()["keys"]
        return httpx.Response(200, json={"keys": [*moto_keys, public]})

    settings = CognitoSettings(
        user_pool_id=pool_id, client_id=client_id, issuer=issuer, jwks_url=JWKS_URL
    )
    empty_pool(cognito_client, pool_id)
    with httpx.Client(transport=httpx.MockTransport(serve_keys)) as http:
        yield CognitoPool(pool_id, client_id, settings, fetches, http)


def craft(
    key: rsa.RSAPrivateKey | None,
    claims: dict[str, Any],
    *,
    kid: str = TEST_KID,
    alg: str = "RS256",
) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def id_claims(pool: CognitoPool, user: User, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, user.id)),
        "iss": pool.settings.issuer,
        "aud": pool.client_id,
        "token_use": "id",
        "cognito:username": user.id,
        "cognito:groups": [group_for(role, user.organisation_id) for role in user.roles],
        "email": user.email,
        "iat": now,
        "auth_time": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


@pytest.fixture
def cognito_identity(cognito_pool: CognitoPool, cognito_client, signing_keys) -> IdentityHarness:
    pool = cognito_pool
    provider = CognitoIdentityProvider(
        cognito_client, pool.settings, JwksKeys(pool.http, pool.settings.jwks_url)
    )
    key, forger = signing_keys

    def sign_in(user: User) -> tuple[str, ...]:
        try:
            cognito_client.admin_set_user_password(
                UserPoolId=pool.pool_id, Username=user.id, Password=PASSWORD, Permanent=True
            )
            result = cognito_client.admin_initiate_auth(
                UserPoolId=pool.pool_id,
                ClientId=pool.client_id,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": user.id, "PASSWORD": PASSWORD},
            )["AuthenticationResult"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "NotAuthorizedException":
                raise AuthenticationFailed("Cognito refused the sign-in.") from error
            raise
        return (result["IdToken"], result["AccessToken"])

    def bad_token(user: User, kind: str) -> str:
        now = int(time.time())
        match kind:
            case "forged_signature":
                return craft(forger, id_claims(pool, user))
            case "wrong_issuer":
                return craft(key, id_claims(pool, user, iss=f"{pool.settings.issuer}-other"))
            case "wrong_audience":
                return craft(key, id_claims(pool, user, aud="another-app-client"))
            case "expired":
                return craft(key, id_claims(pool, user, iat=now - 7200, exp=now - 3600))
            case "wrong_token_use":
                return craft(key, id_claims(pool, user, token_use="refresh"))
            case "alg_none":
                return craft(None, id_claims(pool, user), alg="none")
            case "unknown_kid":
                return craft(key, id_claims(pool, user), kid="no-such-key")
            case _:
                return kind

    return IdentityHarness(
        "cognito", provider, sign_in, bad_token, lambda user: craft(key, id_claims(pool, user))
    )


@pytest.fixture(params=["memory", "cognito"])
def identity(request: pytest.FixtureRequest) -> IdentityHarness:
    found: IdentityHarness = request.getfixturevalue(f"{request.param}_identity")
    return found
