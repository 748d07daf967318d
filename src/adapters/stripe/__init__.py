"""Stripe: Checkout Sessions for pay links, and verified webhook events (httpx)."""

from adapters.stripe.events import payment_event
from adapters.stripe.gateway import SIGNATURE_HEADER, StripePaymentGateway

__all__ = ["SIGNATURE_HEADER", "StripePaymentGateway", "payment_event"]
