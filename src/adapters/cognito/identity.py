"""Amazon Cognito as the identity provider: verifies the ID and access tokens a Cognito user
pool issues, and manages the pool's users through a boto3 `cognito-idp` client.

Groups carry roles (the pool's group names are the contract):

    staff                                  Role.STAFF
    admin                                  Role.ADMIN
    org:<organisation id>:client_admin     Role.CLIENT_ADMIN in that organisation
    org:<organisation id>:client_viewer    Role.CLIENT_VIEWER in that organisation
    org:<organisation id>:billing_contact  Role.BILLING_CONTACT in that organisation

Other groups are ignored. A token whose groups give no role, mix staff and client roles, or
name two organisations proves nothing. The Cognito user name is the portal's user id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import jwt
from attrs import frozen
from botocore.exceptions import ClientError

from portal_core.organisations.model import CLIENT_ROLES, STAFF_ROLES, Principal, Role, User
from portal_core.ports import AuthenticationFailed

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_cognito_idp.type_defs import AttributeTypeTypeDef

logger = logging.getLogger(__name__)

FAILED = "The sign-in could not be verified; please sign in again."
ALGORITHM = "RS256"
ID_TOKEN = "id"  # noqa: S105 (a token kind, not a secret)
ACCESS_TOKEN = "access"  # noqa: S105 (a token kind, not a secret)
ORGANISATION_GROUP_PREFIX = "org:"
STAFF_GROUPS = {"staff": Role.STAFF, "admin": Role.ADMIN}
CLIENT_GROUP_ROLES = {role.value: role for role in CLIENT_ROLES}


@frozen(kw_only=True)
class CognitoSettings:
    user_pool_id: str
    client_id: str
    """The app client whose tokens the portal accepts (`aud` of ID, `client_id` of access)."""
    issuer: str
    """`https://cognito-idp.<region>.amazonaws.com/<user pool id>`."""
    jwks_url: str
    """Normally the issuer + `/.well-known/jwks.json`."""
    token_uses: frozenset[str] = frozenset({ID_TOKEN, ACCESS_TOKEN})
    leeway_seconds: int = 30
    """Clock skew tolerated on `exp`, `iat` and `nbf`."""

    @classmethod
    def for_pool(cls, *, region: str, user_pool_id: str, client_id: str) -> CognitoSettings:
        issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        return cls(
            user_pool_id=user_pool_id,
            client_id=client_id,
            issuer=issuer,
            jwks_url=f"{issuer}/.well-known/jwks.json",
        )


def group_for(role: Role, organisation_id: str | None) -> str:
    """The Cognito group that gives `role` (in `organisation_id` for client roles)."""
    if role in STAFF_ROLES:
        return role.value
    if organisation_id is None:
        raise ValueError("A client role belongs to an organisation.")
    return f"{ORGANISATION_GROUP_PREFIX}{organisation_id}:{role.value}"


def principal_from_groups(user_id: str, groups: list[str]) -> Principal:
    """The principal the groups make; AuthenticationFailed if they make none or a bad one."""
    roles: set[Role] = set()
    organisations: set[str] = set()
    for group in groups:
        if group in STAFF_GROUPS:
            roles.add(STAFF_GROUPS[group])
        elif group.startswith(ORGANISATION_GROUP_PREFIX):
            organisation_id, _, role_name = group.removeprefix(
                ORGANISATION_GROUP_PREFIX
            ).rpartition(":")
            role = CLIENT_GROUP_ROLES.get(role_name)
            if role is not None and organisation_id:
                roles.add(role)
                organisations.add(organisation_id)
    if not roles:
        raise _fail("token gives no role", user_id=user_id)
    if roles & STAFF_ROLES and roles & CLIENT_ROLES:
        raise _fail("groups mix staff and client roles", user_id=user_id)
    if len(organisations) > 1:
        raise _fail("groups name more than one organisation", user_id=user_id)
    return Principal(
        user_id=user_id,
        organisation_id=next(iter(organisations), None),
        roles=frozenset(roles),
    )


class JwksKeys:
    """The pool's signing keys by `kid`, fetched once and again only for a `kid` not yet seen,
    at most once per `refetch_interval` seconds so that tokens with made-up `kid`s cannot make
    the portal hammer the key URL."""

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        *,
        refetch_interval: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._url = url
        self._refetch_interval = refetch_interval
        self._monotonic = monotonic
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            if kid not in self._keys and self._may_fetch():
                self._fetch()
            return self._keys.get(kid)

    def _may_fetch(self) -> bool:
        return (
            self._fetched_at is None
            or self._monotonic() - self._fetched_at >= self._refetch_interval
        )

    def _fetch(self) -> None:
        self._fetched_at = self._monotonic()
        try:
            answer = self._http.get(self._url, timeout=5.0)
            answer.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(answer.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as error:
            logger.error("could not fetch the token signing keys from %s: %s", self._url, error)
            return
        self._keys = {
            key.key_id: key
            for key in key_set.keys
            if key.key_id and key.key_type == "RSA" and key.public_key_use in (None, "sig")
        }


class CognitoIdentityProvider:
    def __init__(
        self,
        client: CognitoIdentityProviderClient,
        settings: CognitoSettings,
        keys: JwksKeys,
    ) -> None:
        self._client = client
        self._settings = settings
        self._keys = keys

    def verify(self, token: str) -> Principal:
        claims = self._verified_claims(token)
        user_id = claims.get("username") or claims.get("cognito:username")
        if not isinstance(user_id, str) or not user_id:
            raise _fail("token names no user")
        groups = claims.get("cognito:groups", [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise _fail("token's groups are not a list of names", user_id=user_id)
        return principal_from_groups(user_id, groups)

    def invite(self, user: User) -> None:
        """Create the Cognito user (Cognito e-mails a temporary password), or enable it again
        if it exists, and put it in exactly the groups of its roles."""
        attributes: list[AttributeTypeTypeDef] = [
            {"Name": "email", "Value": user.email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "name", "Value": user.name},
        ]
        try:
            self._client.admin_create_user(
                UserPoolId=self._settings.user_pool_id,
                Username=user.id,
                UserAttributes=attributes,
                DesiredDeliveryMediums=["EMAIL"],
            )
        except ClientError as error:
            if _code(error) != "UsernameExistsException":
                raise
            self._client.admin_enable_user(UserPoolId=self._settings.user_pool_id, Username=user.id)
        wanted = {group_for(role, user.organisation_id) for role in user.roles}
        current = self._groups_of(user.id)
        for group in sorted(wanted - current):
            self._add_to_group(user.id, group)
        for group in sorted(current - wanted):
            if group in STAFF_GROUPS or group.startswith(ORGANISATION_GROUP_PREFIX):
                self._client.admin_remove_user_from_group(
                    UserPoolId=self._settings.user_pool_id, Username=user.id, GroupName=group
                )
        logger.info("invited user %s to the Cognito pool with groups %s", user.id, sorted(wanted))

    def disable(self, user_id: str) -> None:
        """Disable the user and revoke their refresh tokens. Access and ID tokens already
        issued stay valid until they expire (keep their life short in the pool's settings)."""
        pool = self._settings.user_pool_id
        self._client.admin_disable_user(UserPoolId=pool, Username=user_id)
        self._client.admin_user_global_sign_out(UserPoolId=pool, Username=user_id)
        logger.info("disabled user %s in the Cognito pool", user_id)

    # --- helpers ----------------------------------------------------------------------------

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise _fail(f"malformed token ({type(error).__name__})") from None
        if header.get("alg") != ALGORITHM:
            raise _fail(f"algorithm {header.get('alg')!r} is not {ALGORITHM}")
        kid = header.get("kid")
        key = self._keys.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise _fail(f"unknown key id {kid!r}")
        settings = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[ALGORITHM],
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={
                    "require": ["exp", "iat", "iss", "token_use"],
                    # `aud` is in ID tokens only; both kinds are checked below.
                    "verify_aud": False,
                },
            )
        except jwt.PyJWTError as error:
            raise _fail(f"{type(error).__name__}: {error}") from None
        token_use = claims.get("token_use")
        if token_use not in settings.token_uses:
            raise _fail(f"token_use {token_use!r} is not accepted")
        audience_claim = "aud" if token_use == ID_TOKEN else "client_id"
        audience = claims.get(audience_claim)
        if audience != settings.client_id:
            raise _fail(f"{token_use} token is for another client ({audience!r})")
        return claims

    def _groups_of(self, user_id: str) -> set[str]:
        groups: set[str] = set()
        pages = self._client.get_paginator("admin_list_groups_for_user").paginate(
            UserPoolId=self._settings.user_pool_id, Username=user_id
        )
        for page in pages:
            groups.update(group["GroupName"] for group in page.get("Groups", []))
        return groups

    def _add_to_group(self, user_id: str, group: str) -> None:
        pool = self._settings.user_pool_id
        try:
            self._client.admin_add_user_to_group(UserPoolId=pool, Username=user_id, GroupName=group)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            # An organisation's groups are made when its first contact is invited.
            self._client.create_group(UserPoolId=pool, GroupName=group)
            self._client.admin_add_user_to_group(UserPoolId=pool, Username=user_id, GroupName=group)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _fail(reason: str, *, user_id: str | None = None) -> AuthenticationFailed:
    """One message for the person, the specific reason for the log (never the token)."""
    logger.warning("token refused: %s%s", reason, f" (user {user_id})" if user_id else "")
    return AuthenticationFailed(FAILED)
