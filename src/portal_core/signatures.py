"""Signed JSON webhooks: `t=<unix seconds>,v1=<hex>[,v1=<hex>...]` over `"<t>.<raw body>"`.

HMAC-SHA256 with any of several secrets (so that a secret can be rotated without downtime),
compared in constant time, on the raw bytes as received (never re-serialised JSON), and only
within `tolerance` seconds of now either way, so that a captured request cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

DEFAULT_TOLERANCE_SECONDS = 300


class SignatureInvalid(Exception):
    """The request is not proven to come from the sender. One message for every reason."""

    def __init__(self) -> None:
        super().__init__("The request signature could not be verified.")


def sign(body: bytes, secret: str, at: datetime) -> str:
    """The header value a sender with `secret` sends at `at` (for senders and tests)."""
    timestamp = str(int(at.timestamp()))
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_signature(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Return if `header` signs `body` with one of `secrets` near `now`; else SignatureInvalid."""
    if not header or not secrets:
        raise SignatureInvalid
    timestamp: str | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not timestamp.isdigit() or not candidates:
        raise SignatureInvalid
    if abs(now.timestamp() - int(timestamp)) > tolerance:
        raise SignatureInvalid
    expected = [_digest(secret, timestamp, body) for secret in secrets]
    # Every pair is compared, so the time taken says nothing about which part matched.
    matched = False
    for candidate in candidates:
        for digest in expected:
            matched |= hmac.compare_digest(candidate.encode(), digest.encode())
    if not matched:
        raise SignatureInvalid


def _digest(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
