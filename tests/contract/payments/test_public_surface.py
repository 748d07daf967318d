"""The payment packages' public surface is exactly their `__all__`."""

from __future__ import annotations

import types

import pytest

import adapters.manual
import adapters.stripe
import portal_core.payments


@pytest.mark.parametrize("package", [portal_core.payments, adapters.stripe, adapters.manual])
def test_the_public_surface_is_exactly_what_all_names(package: types.ModuleType) -> None:
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(package.__all__)
