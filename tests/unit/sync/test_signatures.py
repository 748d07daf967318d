"""Signed JSON events: only the sender's exact bytes, recently signed, with a current secret."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_core.sync import SignatureInvalid, sign, verify_signature
from tests.unit.sync.builders import START

BODY = b'{"payload": {"ChangeEventHeader": {"entityName": "Case"}}}'


def test_a_body_signed_with_a_current_secret_is_accepted() -> None:
    verify_signature(sign(BODY, "new-secret", START), BODY, ["old-secret", "new-secret"], START)


def test_a_flipped_byte_is_refused() -> None:
    header = sign(BODY, "secret", START)
    with pytest.raises(SignatureInvalid):
        verify_signature(header, BODY.replace(b"Case", b"Casf"), ["secret"], START)


def test_re_serialised_json_is_refused() -> None:
    header = sign(BODY, "secret", START)
    with pytest.raises(SignatureInvalid):
        verify_signature(header, BODY.replace(b": ", b":"), ["secret"], START)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=abc,v1=00", "t=1"])
def test_a_missing_or_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureInvalid):
        verify_signature(header, BODY, ["secret"], START)


@pytest.mark.parametrize("skew", [timedelta(seconds=301), timedelta(seconds=-301)])
def test_a_signature_too_old_or_from_the_future_is_refused(skew: timedelta) -> None:
    header = sign(BODY, "secret", START)
    with pytest.raises(SignatureInvalid):
        verify_signature(header, BODY, ["secret"], START + skew)
    verify_signature(header, BODY, ["secret"], START + skew / 301 * 300)


def test_a_retired_secret_is_refused() -> None:
    with pytest.raises(SignatureInvalid):
        verify_signature(sign(BODY, "retired", START), BODY, ["current"], START)
