"""What can go wrong talking to Salesforce, in terms the outbox and the operator can act on.

Messages name the Salesforce error code and text, never a token, key or secret.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen


@frozen
class ApiError:
    """One entry of a Salesforce error body: `[{"message": ..., "errorCode": ...}]`."""

    error_code: str
    message: str
    fields: tuple[str, ...] = ()


class SalesforceError(Exception):
    """Salesforce refused the request; retrying the same request will not help."""

    def __init__(self, status: int, errors: Sequence[ApiError]) -> None:
        self.status = status
        self.errors = tuple(errors)
        summary = "; ".join(f"{e.error_code}: {e.message}" for e in self.errors) or "no details"
        super().__init__(f"Salesforce answered {status}: {summary}")

    @property
    def error_code(self) -> str | None:
        return self.errors[0].error_code if self.errors else None


class SalesforceUnavailable(Exception):
    """Salesforce is down, over its API limit, or unreachable: worth retrying later."""


class SalesforceAuthError(Exception):
    """The token request was refused (wrong key, user not pre-authorised, wrong secret)."""
