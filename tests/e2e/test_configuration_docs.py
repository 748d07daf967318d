"""docs/settings.md documents every setting, under the variable name people set."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from entrypoints.settings import PREFIX, Settings

SETTINGS_DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_every_setting_is_documented_by_its_variable() -> None:
    documented = set(re.findall(r"`(PORTAL_[A-Z0-9_]+)`", SETTINGS_DOC.read_text(encoding="utf-8")))

    expected = {PREFIX + field.name.upper() for field in attrs.fields(Settings)}
    assert expected - documented == set()
