"""Rules for file names and storage keys.

A client's file name is display data only: storage keys are always made by the server, and the
display name is cleaned of anything that could mislead a person or a file system.
"""

from __future__ import annotations

import re
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


# An upload moves through three places. The browser writes to `incoming/`; a confirmed upload,
# checked by size and content, moves to the organisation's `upload/` (the only place a case
# attaches from); a refused one that may be an attack moves to `quarantine/` for review.
# `incoming/` and `quarantine/` are top-level prefixes so that one storage lifecycle rule each
# can expire abandoned and reviewed files; the quota counts what sits under `org/<id>/`.


def organisation_prefix(organisation_id: str) -> str:
    """Everything kept for an organisation: what its quota is measured on."""
    return f"org/{organisation_id}/"


def incoming_prefix(organisation_id: str) -> str:
    return f"incoming/org/{organisation_id}/"


def incoming_key(organisation_id: str, upload_id: str) -> str:
    """Where a browser uploads with a ticket, before the upload is confirmed."""
    return f"{incoming_prefix(organisation_id)}{upload_id}"


def quarantine_key(organisation_id: str, upload_id: str) -> str:
    return f"quarantine/org/{organisation_id}/{upload_id}"


_UPLOAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def upload_id_of(key: str, prefix: str) -> str | None:
    """The upload id in `key` if `key` is exactly `prefix` plus one plain id (letters, digits,
    `-`, `_`; what the id generator makes), else None."""
    if not key.startswith(prefix):
        return None
    upload_id = key[len(prefix) :]
    return upload_id if _UPLOAD_ID.fullmatch(upload_id) else None


# RFC 5987 `attr-char`: what may stand unencoded in `filename*`.
_ATTR_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~"
)


def content_disposition(display_name: str, *, disposition: str = "attachment") -> str:
    """An RFC 6266 `Content-Disposition` value offering `display_name` as the file name.

    Old clients read the quoted ASCII `filename`; every current browser reads `filename*`,
    the UTF-8 name percent-encoded, so names in any script arrive intact.
    """
    name = clean_display_name(display_name)
    encoded = "".join(
        ch if ch in _ATTR_CHARS else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))
        for ch in name
    )
    return f"{disposition}; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"


def ascii_fallback(name: str) -> str:
    """`name` in printable ASCII, safe inside a quoted string: accents dropped (`é` → `e`),
    other characters, quotes and backslashes replaced by `_`."""
    decomposed = unicodedata.normalize("NFKD", name)
    kept = "".join(
        ch if " " <= ch <= "~" and ch not in '"\\%' else ("" if unicodedata.combining(ch) else "_")
        for ch in decomposed
    )
    return kept.strip() or "file"
