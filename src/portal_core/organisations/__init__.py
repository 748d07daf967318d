"""Organisations, users, roles and principals."""

from portal_core.organisations.model import (
    CLIENT_ROLES,
    STAFF_ROLES,
    Organisation,
    Principal,
    Role,
    User,
)

__all__ = ["CLIENT_ROLES", "STAFF_ROLES", "Organisation", "Principal", "Role", "User"]
