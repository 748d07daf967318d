"""The password rules: long enough, not the e-mail address, not a well-known password.

Following NIST SP 800-63B and OWASP ASVS: length over composition rules, and a check against
passwords attackers try first. Only passwords of the minimum length or more need listing here,
since shorter ones fail anyway.
"""

from __future__ import annotations

from attrs import frozen

from portal_core.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 256
"""An upper bound so that nobody makes the server hash megabytes."""

COMMON_PASSWORDS = frozenset(
    {
        "000000000000",
        "111111111111",
        "123123123123",
        "123456123456",
        "123456789012",
        "1234567890123",
        "12345678910",
        "123456789abc",
        "123456789123",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "abc123abc123",
        "abcdefghijkl",
        "administrator",
        "changeme1234",
        "iloveyou1234",
        "letmein12345",
        "password1234",
        "password123!",
        "passwordpassword",
        "passw0rd1234",
        "qwerty123456",
        "qwertyqwerty",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwertyuiopasdf",
        "welcome12345",
        "welcome@1234",
        "p@ssw0rd1234",
        "football1234",
        "sunshine1234",
        "monkey123456",
    }
)


@frozen(kw_only=True)
class PasswordPolicy:
    min_length: int = MIN_LENGTH
    max_length: int = MAX_LENGTH
    common_passwords: frozenset[str] = COMMON_PASSWORDS

    def check(self, password: str, *, email: str) -> None:
        """Raise InvalidInput, saying what to change, unless `password` may be used."""
        if len(password) < self.min_length:
            raise InvalidInput(f"Choose a password of at least {self.min_length} characters.")
        if len(password) > self.max_length:
            raise InvalidInput(f"Choose a password of at most {self.max_length} characters.")
        folded = password.strip().casefold()
        address = email.strip().casefold()
        if folded in {address, address.partition("@")[0]}:
            raise InvalidInput("Choose a password that is not your e-mail address.")
        if folded in self.common_passwords or len(set(folded)) == 1:
            raise InvalidInput("That password is too well known; choose another.")
