"""Billing rules: money, contracts, time rounding, invoices, credit notes, receivables."""
