"""Money: a Decimal amount in one currency, rounded to that currency's minor unit on request.

Rules that live here: amounts are `Decimal`, never float; arithmetic only ever combines amounts
of one currency (mixing raises `CurrencyMismatch`); rounding quantizes to the currency's minor
unit per ISO 4217 (EUR, USD, GBP: 2; JPY: 0; BHD, KWD: 3) with ROUND_HALF_UP unless a contract
asks for ROUND_HALF_EVEN. Amounts are only rounded where a billing rule says so; intermediate
results such as `minutes × rate / 60` stay exact until then.
"""

from __future__ import annotations

import enum
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import total_ordering

from attrs import field, frozen

from portal_core.errors import InvalidInput

MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CAD": 2,
    "AUD": 2,
    "JPY": 0,
    "BHD": 3,
    "KWD": 3,
}
"""Digits after the decimal point of each supported currency (ISO 4217)."""


class CurrencyMismatch(InvalidInput):
    """Two amounts in different currencies were combined: never converted silently."""

    code = "currency_mismatch"


class MoneyRounding(enum.StrEnum):
    """How an amount is rounded to the minor unit. A half goes up (away from zero) by default."""

    HALF_UP = "half_up"
    HALF_EVEN = "half_even"

    @property
    def decimal_mode(self) -> str:
        return ROUND_HALF_UP if self is MoneyRounding.HALF_UP else ROUND_HALF_EVEN


def to_decimal(value: object) -> Decimal:
    """A Decimal from a Decimal, an int or a numeric string; floats are refused outright."""
    if isinstance(value, bool | float):
        raise InvalidInput("Amounts are exact decimals, never floats; pass a Decimal or a string.")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise InvalidInput(f"{value!r} is not an amount.") from None
    else:
        raise InvalidInput(f"{value!r} is not an amount.")
    if not result.is_finite():
        raise InvalidInput("An amount must be a finite number.")
    return result


MAX_AMOUNT = Decimal(10) ** 15
"""No amount reaches a quadrillion in any currency; beyond it Decimal's 28 digits could not
round it to minor units, so such an amount is refused as input instead of failing later."""


def _amount(value: object) -> Decimal:
    amount = to_decimal(value)
    if abs(amount) >= MAX_AMOUNT:
        raise InvalidInput("That amount is too large.")
    return amount


def _currency(value: str) -> str:
    code = value.strip().upper()
    if code not in MINOR_UNITS:
        raise InvalidInput(f"Unsupported currency {value!r}.")
    return code


@total_ordering
@frozen
class Money:
    """An amount in a currency. `Money("12.30", "EUR")`, or `Money(Decimal("12.3"), "EUR")`."""

    amount: Decimal = field(converter=_amount)
    currency: str = field(converter=_currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @property
    def minor_units(self) -> int:
        return MINOR_UNITS[self.currency]

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.minor_units)

    def rounded(self, mode: MoneyRounding = MoneyRounding.HALF_UP) -> Money:
        """This amount quantized to the currency's minor unit."""
        return Money(self.amount.quantize(self.quantum, rounding=mode.decimal_mode), self.currency)

    @property
    def is_rounded(self) -> bool:
        return self.amount == self.amount.quantize(self.quantum)

    def __str__(self) -> str:
        """The amount as printed and as sent in JSON and CSV: "540.00" (minor units kept)."""
        shown = self.amount.quantize(self.quantum) if self.is_rounded else self.amount
        return f"{shown:f}"

    def format(self) -> str:
        """For people: "EUR 2,360.00"."""
        return f"{self.currency} {self.amount:,.{self.minor_units}f}"

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"Cannot combine Money with {type(other).__name__}.")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} and {other.currency} amounts.")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * to_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    @property
    def is_negative(self) -> bool:
        return self.amount < 0


def total(amounts: list[Money] | tuple[Money, ...], currency: str) -> Money:
    """The exact sum of `amounts` (all in `currency`); zero for none."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
