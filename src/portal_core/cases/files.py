"""Rules for file names and storage keys.

A client's file name is display data only: storage keys are always made by the server, and the
display name is cleaned of anything that could mislead a person or a file system.
"""

from __future__ import annotations

import unicodedata

MAX_DISPLAY_NAME_LENGTH = 180
_WINDOWS_RESERVED = (
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)


def clean_display_name(name: str) -> str:
    """A safe name to show and to offer as the download name.

    Drops directories (`../`), control and format characters (including right-to-left
    overrides), reserved device names and leading dots; keeps letters of every script.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(
        ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C"
    )
    kept = " ".join(kept.split()).strip(" .")
    stem, dot, extension = kept.rpartition(".")
    if (stem if dot else kept).lower() in _WINDOWS_RESERVED:
        kept = f"_{kept}"
    if len(kept) > MAX_DISPLAY_NAME_LENGTH:
        suffix = f".{extension}" if dot and len(extension) <= 10 else ""
        kept = kept[: MAX_DISPLAY_NAME_LENGTH - len(suffix)].rstrip(" .") + suffix
    return kept or "file"


def upload_prefix(organisation_id: str) -> str:
    """Where an organisation's not-yet-attached uploads live."""
    return f"org/{organisation_id}/upload/"


def upload_key(organisation_id: str, upload_id: str) -> str:
    return f"{upload_prefix(organisation_id)}{upload_id}"
