"""Domain errors: every rule the core enforces fails with one of these, never a bare exception.

The web edge maps each class to one HTTP status in a single exception handler.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the core raises on purpose. `code` is stable and machine-readable."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The thing does not exist, or the principal may not know that it exists."""

    code = "not_found"


class PermissionDenied(DomainError):
    """The principal can see the thing but may not do this to it."""

    code = "permission_denied"


class InvalidInput(DomainError):
    """The request breaks a rule of the domain (empty subject, zero minutes, ...)."""

    code = "invalid_input"


class InvalidTransition(DomainError):
    """A state machine refused the move (resolving a closed case, issuing an issued invoice)."""

    code = "invalid_transition"


class ConcurrencyConflict(DomainError):
    """Someone else changed the thing since it was read; re-read and try again."""

    code = "concurrency_conflict"


class Conflict(DomainError):
    """The request clashes with stored state (a duplicate, an idempotency key reused)."""

    code = "conflict"
