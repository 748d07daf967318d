"""Amazon Cognito adapters: the identity provider."""

from adapters.cognito.identity import (
    CognitoIdentityProvider,
    CognitoSettings,
    JwksKeys,
    group_for,
    principal_from_groups,
)

__all__ = [
    "CognitoIdentityProvider",
    "CognitoSettings",
    "JwksKeys",
    "group_for",
    "principal_from_groups",
]
