"""The client contract: how one organisation is billed, as data (never as code per client).

Three kinds, each with its own terms: hourly (a rate per role, optionally a cap per case),
retainer (a monthly fee including some hours, overage at a rate, unused hours expire or roll
over up to a limit) and fixed fee (a price per case, set on the case through `CaseFee` or per
case type in the contract). Every contract also has a currency, a tax rule, an optional
discount, payment terms, a grouping, a time rounding rule, a money rounding mode, whether
invoices are issued without staff review, and the number series of invoices and credit notes.

Combinations the firm does not sell are refused when the contract is made: a retainer is billed
monthly (its fee and included hours are per month, so per-case grouping means nothing for it),
and a fixed fee is billed per case (it is charged when the case is resolved).
"""

from __future__ import annotations

import enum
import string
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from attrs import field, frozen

from portal_core.billing.money import MINOR_UNITS, Money, MoneyRounding, to_decimal
from portal_core.billing.rounding import RoundingRule
from portal_core.errors import InvalidInput

MAX_PAYMENT_TERMS_DAYS = 365


class ContractKind(enum.StrEnum):
    HOURLY = "hourly"
    RETAINER = "retainer"
    FIXED_FEE = "fixed_fee"


class Grouping(enum.StrEnum):
    PER_CASE = "per_case"
    """One invoice per case, drafted when the case is resolved."""
    MONTHLY = "monthly"
    """One invoice per organisation and calendar month (firm time zone), lines by case."""


class TaxScope(enum.StrEnum):
    INVOICE = "invoice"
    """Round the tax once per invoice and rate, on the sum of the net lines (the default)."""
    LINE = "line"
    """Round each line's tax, then sum."""


def _percent(value: object) -> Decimal:
    percent = to_decimal(value)
    if not 0 <= percent <= 100:
        raise InvalidInput("A percentage is between 0 and 100.")
    return percent


@frozen(kw_only=True)
class TaxRule:
    """VAT or sales tax: `rate_percent` 20 means 20 %. Zero is allowed, usually with a note."""

    rate_percent: Decimal = field(converter=_percent)
    scope: TaxScope = TaxScope.INVOICE
    note: str = ""
    """Printed with the tax, e.g. "Reverse charge: VAT to be accounted for by the recipient"."""

    @property
    def label(self) -> str:
        return f"VAT {self.rate_percent.normalize():f}%"


def _rates(value: Mapping[str, object]) -> dict[str, Decimal]:
    rates: dict[str, Decimal] = {}
    for role, rate in value.items():
        name = role.strip()
        if not name:
            raise InvalidInput("A rate needs the role it applies to.")
        amount = to_decimal(rate)
        if amount < 0:
            raise InvalidInput(f"The rate for {name} cannot be negative.")
        rates[name] = amount
    return rates


def _optional_amount(value: object) -> Decimal | None:
    return None if value is None else to_decimal(value)


def _fees(value: Mapping[str, object]) -> dict[str, Decimal]:
    fees = {case_type.strip(): to_decimal(fee) for case_type, fee in value.items()}
    if any(not case_type for case_type in fees):
        raise InvalidInput("A fixed fee per case type needs the case type.")
    if any(fee < 0 for fee in fees.values()):
        raise InvalidInput("A fixed fee cannot be negative.")
    return fees


@frozen(kw_only=True)
class HourlyTerms:
    """Time and materials at the contract's rates per role."""

    cap_per_case: Decimal | None = field(default=None, converter=_optional_amount)
    """"Not to exceed": a case never costs more than this, across all its invoices."""

    def __attrs_post_init__(self) -> None:
        if self.cap_per_case is not None and self.cap_per_case < 0:
            raise InvalidInput("A cap per case cannot be negative.")


@frozen(kw_only=True)
class RetainerTerms:
    """A monthly fee including some hours; billed minutes beyond them at the overage rate."""

    monthly_fee: Decimal = field(converter=to_decimal)
    included_minutes: int
    overage_rate: Decimal = field(converter=to_decimal)
    """Per hour."""
    rollover_limit_minutes: int = 0
    """Unused included minutes carried into the next month, at most this many (0: they expire)."""

    def __attrs_post_init__(self) -> None:
        if self.monthly_fee < 0 or self.overage_rate < 0:
            raise InvalidInput("A retainer's fee and overage rate cannot be negative.")
        if self.included_minutes < 0 or self.rollover_limit_minutes < 0:
            raise InvalidInput("A retainer's included and roll-over minutes cannot be negative.")


@frozen(kw_only=True)
class FixedFeeTerms:
    """A price per case, charged when the case is resolved; time is shown at zero."""

    fees_by_case_type: dict[str, Decimal] = field(factory=dict, converter=_fees)
    """The price of a case of each type; a `CaseFee` names a case's type or its own price."""


Terms = HourlyTerms | RetainerTerms | FixedFeeTerms


class NumberSeries(enum.StrEnum):
    """Which gap-free series a document takes its number from."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


_FORMAT_FIELDS = frozenset({"prefix", "year", "number"})


def _check_number_format(value: str) -> str:
    fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    if "number" not in fields or not fields <= _FORMAT_FIELDS:
        raise InvalidInput(
            "A number format uses {prefix}, {year} and {number}, and must contain {number}."
        )
    try:
        value.format(prefix="X", year=2026, number=1)
    except (ValueError, IndexError, KeyError):
        raise InvalidInput(f"{value!r} is not a valid number format.") from None
    return value


@frozen(kw_only=True)
class NumberFormat:
    """How numbers of one series look: `INV-2026-0001`. The counter runs per prefix and year,
    so every contract with the same prefix shares one gap-free sequence each year."""

    prefix: str
    template: str = field(default="{prefix}-{year}-{number:04d}", converter=_check_number_format)

    def __attrs_post_init__(self) -> None:
        if not self.prefix.strip() or not self.prefix.replace("-", "").isalnum():
            raise InvalidInput("A number prefix is letters and digits, e.g. INV.")

    def counter_key(self, year: int) -> str:
        return f"{self.prefix}-{year}"

    def format(self, *, year: int, number: int) -> str:
        return self.template.format(prefix=self.prefix, year=year, number=number)


DEFAULT_INVOICE_NUMBERS = NumberFormat(prefix="INV")
DEFAULT_CREDIT_NOTE_NUMBERS = NumberFormat(prefix="CN")


@frozen(kw_only=True)
class Contract:
    """How an organisation is billed. A new contract for an organisation replaces the old one
    for everything billed afterwards; invoices keep the id of the contract they were made with."""

    id: str
    organisation_id: str
    terms: Terms
    currency: str
    rates: dict[str, Decimal] = field(factory=dict, converter=_rates)
    """Hourly rate per role ("Senior", "Engineer"); hourly contracts bill every role by these."""
    tax: TaxRule
    discount_percent: Decimal = field(default=Decimal(0), converter=_percent)
    payment_terms_days: int = 30
    grouping: Grouping
    rounding: RoundingRule = field(factory=RoundingRule)
    money_rounding: MoneyRounding = MoneyRounding.HALF_UP
    auto_issue: bool = False
    """Issue per-case invoices at once when drafted, without staff review."""
    invoice_numbers: NumberFormat = DEFAULT_INVOICE_NUMBERS
    credit_note_numbers: NumberFormat = DEFAULT_CREDIT_NOTE_NUMBERS
    created_at: datetime

    def __attrs_post_init__(self) -> None:
        if self.currency not in MINOR_UNITS:
            raise InvalidInput(f"Unsupported currency {self.currency!r}.")
        if not 0 <= self.payment_terms_days <= MAX_PAYMENT_TERMS_DAYS:
            raise InvalidInput(f"Payment terms are 0 to {MAX_PAYMENT_TERMS_DAYS} days.")
        if isinstance(self.terms, RetainerTerms) and self.grouping is not Grouping.MONTHLY:
            raise InvalidInput("A retainer is billed monthly: its fee and hours are per month.")
        if isinstance(self.terms, FixedFeeTerms) and self.grouping is not Grouping.PER_CASE:
            raise InvalidInput("A fixed fee is billed per case, when the case is resolved.")
        if isinstance(self.terms, HourlyTerms) and not self.rates:
            raise InvalidInput("An hourly contract needs a rate for at least one role.")
        for amount in self._fixed_amounts():
            if not self.money(amount).is_rounded:
                raise InvalidInput(
                    f"{amount} is not a whole amount of {self.currency}: caps, fees and prices "
                    "are in the currency's minor units."
                )
        if self.invoice_numbers.prefix == self.credit_note_numbers.prefix:
            raise InvalidInput("Credit notes have their own number series, apart from invoices.")

    def _fixed_amounts(self) -> list[Decimal]:
        match self.terms:
            case HourlyTerms(cap_per_case=cap):
                return [] if cap is None else [cap]
            case RetainerTerms(monthly_fee=fee):
                return [fee]
            case FixedFeeTerms(fees_by_case_type=fees):
                return list(fees.values())

    @property
    def kind(self) -> ContractKind:
        match self.terms:
            case HourlyTerms():
                return ContractKind.HOURLY
            case RetainerTerms():
                return ContractKind.RETAINER
            case FixedFeeTerms():
                return ContractKind.FIXED_FEE

    def money(self, amount: Decimal | int | str) -> Money:
        return Money(to_decimal(amount), self.currency)

    def rate_for(self, role: str) -> Decimal:
        """The hourly rate of `role`; InvalidInput when the contract has none for it."""
        try:
            return self.rates[role]
        except KeyError:
            raise InvalidInput(
                f"The contract has no rate for the role {role!r}; add one before billing."
            ) from None

    def numbers(self, series: NumberSeries) -> NumberFormat:
        if series is NumberSeries.INVOICE:
            return self.invoice_numbers
        return self.credit_note_numbers


@frozen(kw_only=True)
class CaseFee:
    """The fixed fee of one case under a fixed-fee contract: billing data kept beside the case,
    not on it. Either the case's own `price`, or its `case_type` priced by the contract."""

    case_id: str
    organisation_id: str
    case_type: str | None = None
    price: Decimal | None = field(default=None, converter=_optional_amount)

    def __attrs_post_init__(self) -> None:
        if (self.case_type is None) == (self.price is None):
            raise InvalidInput("Give a case either its own fixed price or a case type, not both.")
        if self.price is not None and self.price < 0:
            raise InvalidInput("A fixed fee cannot be negative.")
        if self.case_type is not None and not self.case_type.strip():
            raise InvalidInput("A case type needs a name.")

    def price_under(self, contract: Contract) -> Money:
        """The fee this case is charged under `contract`."""
        if self.price is not None:
            price = contract.money(self.price)
            if not price.is_rounded:
                raise InvalidInput(f"{self.price} is not a whole amount of {contract.currency}.")
            return price
        assert self.case_type is not None
        if not isinstance(contract.terms, FixedFeeTerms):
            raise InvalidInput("Only a fixed-fee contract prices cases by type.")
        fee = contract.terms.fees_by_case_type.get(self.case_type)
        if fee is None:
            raise InvalidInput(f"The contract has no fixed fee for case type {self.case_type!r}.")
        return contract.money(fee)
