"""Billing: the firm's billing rules (BILLING.md) as value objects, pure functions and use cases.

Money and rounding (`money`, `rounding`), contracts as data (`contract`), time entries
(`time_entries`), computing an invoice line by line (`compute`), invoices, credit notes and
their lifecycle (`invoice`, `credit_notes`), receivables (`receivables`), work in progress
(`wip`), monthly periods in the firm's time zone (`periods`), events, access rules, the
repository ports, and the use cases (`service.BillingService`).
"""

from portal_core.billing.compute import CaseBilling, compute_invoice, tax_line, time_amount
from portal_core.billing.contract import (
    CaseFee,
    Contract,
    ContractKind,
    FixedFeeTerms,
    Grouping,
    HourlyTerms,
    NumberFormat,
    RetainerTerms,
    TaxRule,
    TaxScope,
    Terms,
)
from portal_core.billing.credit_notes import CreditCalculation, CreditLine, compute_credit
from portal_core.billing.events import (
    CaseFeeSet,
    ContractSet,
    CreditNoteDocumentStored,
    CreditNoteIssued,
    InvoiceDocumentStored,
    InvoiceDrafted,
    InvoiceIssued,
    InvoiceRecomputed,
    PaymentRecorded,
    TimeEntryDeleted,
    TimeEntryEdited,
    TimeLogged,
)
from portal_core.billing.invoice import (
    BilledEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceCalculation,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Payment,
    TaxLine,
)
from portal_core.billing.money import MINOR_UNITS, CurrencyMismatch, Money, MoneyRounding
from portal_core.billing.periods import DEFAULT_FIRM_TIME_ZONE, BillingPeriod
from portal_core.billing.ports import (
    CaseFeeRepository,
    ContractRepository,
    CreditNoteRepository,
    InvoiceRepository,
    TimeEntryRepository,
)
from portal_core.billing.receivables import (
    AgingBucket,
    AgingRow,
    DaysSalesOutstanding,
    aging,
    days_sales_outstanding,
    outstanding_on,
)
from portal_core.billing.rounding import RoundingRule, RoundingScope, TimeRoundingMode
from portal_core.billing.service import (
    BillingService,
    DeleteTime,
    EditTime,
    IssueCreditNote,
    LogTime,
    MonthlyRun,
    Receivables,
    RecordPayment,
    SetCaseFee,
    SetContract,
)
from portal_core.billing.time_entries import TimeEntry
from portal_core.billing.wip import WorkInProgress, work_in_progress

__all__ = [
    "DEFAULT_FIRM_TIME_ZONE",
    "MINOR_UNITS",
    "AgingBucket",
    "AgingRow",
    "BilledEntry",
    "BillingPeriod",
    "BillingService",
    "CaseBilling",
    "CaseFee",
    "CaseFeeRepository",
    "CaseFeeSet",
    "Contract",
    "ContractKind",
    "ContractRepository",
    "ContractSet",
    "CreditCalculation",
    "CreditLine",
    "CreditNote",
    "CreditNoteDocumentStored",
    "CreditNoteIssued",
    "CreditNoteLine",
    "CreditNoteRepository",
    "CurrencyMismatch",
    "DaysSalesOutstanding",
    "DeleteTime",
    "EditTime",
    "FixedFeeTerms",
    "Grouping",
    "HourlyTerms",
    "Invoice",
    "InvoiceCalculation",
    "InvoiceDocumentStored",
    "InvoiceDrafted",
    "InvoiceIssued",
    "InvoiceLine",
    "InvoiceRecomputed",
    "InvoiceRepository",
    "InvoiceStatus",
    "IssueCreditNote",
    "LineKind",
    "LogTime",
    "Money",
    "MoneyRounding",
    "MonthlyRun",
    "NumberFormat",
    "Payment",
    "PaymentRecorded",
    "Receivables",
    "RecordPayment",
    "RetainerTerms",
    "RoundingRule",
    "RoundingScope",
    "SetCaseFee",
    "SetContract",
    "TaxLine",
    "TaxRule",
    "TaxScope",
    "Terms",
    "TimeEntry",
    "TimeEntryDeleted",
    "TimeEntryEdited",
    "TimeEntryRepository",
    "TimeLogged",
    "TimeRoundingMode",
    "WorkInProgress",
    "aging",
    "compute_credit",
    "compute_invoice",
    "days_sales_outstanding",
    "outstanding_on",
    "tax_line",
    "time_amount",
    "work_in_progress",
]
