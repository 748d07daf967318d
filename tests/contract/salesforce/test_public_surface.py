"""The Salesforce adapter's public surface is exactly `__all__`, and the core's sync package too."""

from __future__ import annotations

import types

import pytest

import adapters.salesforce
import portal_core.sync


@pytest.mark.parametrize("package", [adapters.salesforce, portal_core.sync])
def test_the_public_surface_is_exactly_what_all_names(package: types.ModuleType) -> None:
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(package.__all__)
