"""Signed JSON webhooks: the rule now lives in `portal_core.signatures`, shared by payments and
every signed event source; this module keeps the old import path working."""

from portal_core.signatures import (
    DEFAULT_TOLERANCE_SECONDS,
    SignatureInvalid,
    sign,
    verify_signature,
)

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "SignatureInvalid", "sign", "verify_signature"]
