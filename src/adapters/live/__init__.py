"""Live updates over Litestar's channels (memory, PostgreSQL LISTEN/NOTIFY, Redis)."""

from adapters.live.channels import (
    STAFF_CHANNEL,
    ChannelsPublisher,
    backend_publishing,
    billing_channel,
    channels_for,
    decode,
    encode,
    make_backend,
    organisation_channel,
)

__all__ = [
    "STAFF_CHANNEL",
    "ChannelsPublisher",
    "backend_publishing",
    "billing_channel",
    "channels_for",
    "decode",
    "encode",
    "make_backend",
    "organisation_channel",
]
