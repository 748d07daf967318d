"""Local sign-in: sessions, one-time links, passwords, the second factor and throttling."""

from portal_core.identity.events import (
    InvitationAccepted,
    InvitationSent,
    PasswordChanged,
    PasswordResetRequested,
    SecondFactorDisabled,
    SecondFactorEnabled,
    SessionsRevoked,
    UserSignedIn,
)
from portal_core.identity.model import (
    AttemptOutcome,
    Credential,
    OneTimeToken,
    Session,
    SignInAttempt,
    TokenPurpose,
    account_key,
    token_digest,
)
from portal_core.identity.passwords import PasswordPolicy
from portal_core.identity.throttle import ThrottlePolicy

__all__ = [
    "AttemptOutcome",
    "Credential",
    "InvitationAccepted",
    "InvitationSent",
    "OneTimeToken",
    "PasswordChanged",
    "PasswordPolicy",
    "PasswordResetRequested",
    "SecondFactorDisabled",
    "SecondFactorEnabled",
    "Session",
    "SessionsRevoked",
    "SignInAttempt",
    "ThrottlePolicy",
    "TokenPurpose",
    "UserSignedIn",
    "account_key",
    "token_digest",
]
