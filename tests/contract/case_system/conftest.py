from tests.contract.salesforce.fixtures import (
    emulator,
    jwt_auth,
    key_pair,
    salesforce,
    sf_api,
    sf_clock,
    sf_http,
    sleeps,
)

__all__ = [
    "emulator",
    "jwt_auth",
    "key_pair",
    "salesforce",
    "sf_api",
    "sf_clock",
    "sf_http",
    "sleeps",
]
