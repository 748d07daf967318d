"""Files on local disk, for the embedded default: the same behaviour as S3 through links the
portal signs and serves itself.

Layout under `root`: `objects/<key>` holds the bytes, `meta/<key>.json` the content type, size
and SHA-256, `tmp/` the uploads in progress. Every write goes to a temporary file first and is
moved into place with `os.replace`, so a reader never sees half a file.

Links (the web layer routes them to `accept_upload` and `open_download`):

    POST {base_url}/files/upload/{token}      multipart form: the ticket's fields, then `file`
    GET  {base_url}/files/download/{token}

A token is `<payload>.<signature>`: the payload is base64url JSON naming the purpose, key,
expiry, maximum size, content type and (for downloads) the display name; the signature is
HMAC-SHA256 over it with the portal's secret, compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from attrs import frozen

from portal_core.cases.content import format_size, normalise_type
from portal_core.cases.files import content_disposition
from portal_core.errors import InvalidInput, NotFound, PermissionDenied
from portal_core.ports import Clock, StoredObject, UploadTicket

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
DEFAULT_MAX_LINK_LIFE = timedelta(minutes=15)
UPLOAD_PATH = "/files/upload/"
DOWNLOAD_PATH = "/files/download/"
UPLOAD_FILE_FIELD = "file"
"""The multipart field that carries the file, after the ticket's fields (as for S3)."""

_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_UPLOAD = "upload"
_DOWNLOAD = "download"


class InvalidLink(PermissionDenied):
    """A file link that is forged, altered, expired or used for the wrong purpose."""

    code = "invalid_link"

    def __init__(self) -> None:
        super().__init__("This link is not valid or has expired; please ask for a new one.")


class UploadTooLarge(InvalidInput):
    """The body went past the ticket's size limit (the web layer answers 413)."""

    code = "too_large"


@frozen(kw_only=True)
class LocalDownload:
    """What the download route sends: the headers, then the chunks."""

    stored: StoredObject
    headers: dict[str, str]
    chunks: Iterator[bytes]


class LocalDiskFileStore:
    def __init__(
        self,
        root: Path,
        *,
        secret: bytes,
        base_url: str,
        clock: Clock,
        max_link_life: timedelta = DEFAULT_MAX_LINK_LIFE,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("The link-signing secret needs at least 32 bytes.")
        self._root = root
        self._secret = secret
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._max_link_life = max_link_life

    # --- FileStore --------------------------------------------------------------------------

    def upload_ticket(
        self, key: str, *, content_type: str, max_size: int, expires_in: timedelta
    ) -> UploadTicket:
        self._object_path(key)
        expires_at = self._clock.now() + min(expires_in, self._max_link_life)
        token = self._sign(
            {
                "p": _UPLOAD,
                "k": key,
                "e": int(expires_at.timestamp()),
                "s": max_size,
                "t": content_type,
            }
        )
        return UploadTicket(
            url=f"{self._base_url}{UPLOAD_PATH}{token}",
            fields={"key": key, "Content-Type": content_type},
            key=key,
            expires_at=expires_at,
            max_size=max_size,
        )

    def describe(self, key: str) -> StoredObject | None:
        try:
            meta = json.loads(self._meta_path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return StoredObject(
            key=key, size=meta["size"], content_type=meta["type"], checksum=meta["sha256"]
        )

    def download_link(
        self, key: str, *, display_name: str, content_type: str, expires_in: timedelta
    ) -> str:
        self._object_path(key)
        expires_at = self._clock.now() + min(expires_in, self._max_link_life)
        token = self._sign(
            {
                "p": _DOWNLOAD,
                "k": key,
                "e": int(expires_at.timestamp()),
                "t": content_type,
                "n": display_name,
            }
        )
        return f"{self._base_url}{DOWNLOAD_PATH}{token}"

    def read(self, key: str) -> Iterator[bytes]:
        path = self._object_path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise NotFound("No such file.") from None
        with handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk

    def read_head(self, key: str, size: int) -> bytes:
        try:
            with self._object_path(key).open("rb") as handle:
                return handle.read(max(size, 0))
        except FileNotFoundError:
            raise NotFound("No such file.") from None

    def move(self, key: str, new_key: str) -> StoredObject:
        stored = self.describe(key)
        if stored is None:
            raise NotFound("No such file.")
        target = self._object_path(new_key)
        target_meta = self._meta_path(new_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target_meta.parent.mkdir(parents=True, exist_ok=True)
        # Bytes first: a crash between the two leaves an orphan, never metadata without bytes.
        os.replace(self._object_path(key), target)
        os.replace(self._meta_path(key), target_meta)
        return StoredObject(
            key=new_key,
            size=stored.size,
            content_type=stored.content_type,
            checksum=stored.checksum,
        )

    def usage(self, prefix: str) -> int:
        directory = prefix.rpartition("/")[0]
        base = self._root / "meta"
        start = base / directory if directory else base
        if directory and not _KEY.fullmatch(directory):
            return 0
        total = 0
        for folder, _, names in os.walk(start):
            for name in names:
                if name.startswith("."):
                    continue  # a metadata file being written
                path = Path(folder) / name
                key = path.relative_to(base).as_posix().removesuffix(".json")
                if key.startswith(prefix):
                    total += json.loads(path.read_text(encoding="utf-8"))["size"]
        return total

    def delete(self, key: str) -> None:
        self._object_path(key).unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def expire(self, prefix: str, *, older_than: timedelta) -> int:
        """Delete objects under `prefix` last written more than `older_than` ago; how many.

        What an S3 lifecycle rule does for `incoming/` (abandoned uploads) and `quarantine/`
        (reviewed files); the worker or the CLI calls it for local disk.
        """
        cutoff = (self._clock.now() - older_than).timestamp()
        directory = prefix.rpartition("/")[0]
        if directory and not _KEY.fullmatch(directory):
            return 0
        base = self._root / "objects"
        removed = 0
        for folder, _, names in os.walk(base / directory if directory else base):
            for name in names:
                path = Path(folder) / name
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix) and path.stat().st_mtime < cutoff:
                    self.delete(key)
                    removed += 1
        return removed

    # --- the routes' side -------------------------------------------------------------------

    def accept_upload(
        self, token: str, chunks: Iterable[bytes], *, content_type: str | None = None
    ) -> StoredObject:
        """Store the body of an upload made with a ticket's link, streamed, within its limit.

        `content_type` is the form's `Content-Type` field; like S3's policy, it must be the
        ticket's. Raises InvalidLink, UploadTooLarge or InvalidInput; stores nothing then.
        """
        claims = self._verify(token, _UPLOAD)
        key, max_size, ticket_type = str(claims["k"]), int(claims["s"]), str(claims["t"])
        if content_type is not None and normalise_type(content_type) != normalise_type(ticket_type):
            logger.warning("local upload to %s refused: content type is not the ticket's", key)
            raise InvalidInput("The file's type is not the one this upload link was made for.")
        target = self._object_path(key)
        tmp_dir = self._root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle = tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="upload-", delete=False)  # noqa: SIM115 (closed below, on every path)
        try:
            with handle:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_size:
                        logger.warning("local upload to %s refused: over %d bytes", key, max_size)
                        raise UploadTooLarge(
                            f"The file is larger than the limit of {format_size(max_size)}."
                        )
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            if size == 0:
                logger.warning("local upload to %s refused: empty", key)
                raise InvalidInput("The file is empty.")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(handle.name, target)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        stored = StoredObject(
            key=key, size=size, content_type=ticket_type, checksum=digest.hexdigest()
        )
        self._write_meta(stored)
        return stored

    def write(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        """Store server-made content (no size limit: the server decides what it writes)."""
        target = self._object_path(key)
        tmp_dir = self._root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle = tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="write-", delete=False)  # noqa: SIM115 (closed below, on every path)
        try:
            with handle:
                for chunk in chunks:
                    size += len(chunk)
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(handle.name, target)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        stored = StoredObject(
            key=key, size=size, content_type=content_type, checksum=digest.hexdigest()
        )
        self._write_meta(stored)
        return stored

    def open_download(self, token: str) -> LocalDownload:
        """The file a download link names, with the headers to send; InvalidLink if the link
        is bad, NotFound if the file has gone."""
        claims = self._verify(token, _DOWNLOAD)
        key = str(claims["k"])
        stored = self.describe(key)
        if stored is None:
            raise NotFound("No such file.")
        headers = {
            "Content-Type": str(claims["t"]),
            "Content-Disposition": content_disposition(str(claims["n"])),
            "Content-Length": str(stored.size),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }
        return LocalDownload(stored=stored, headers=headers, chunks=self.read(key))

    # --- helpers ----------------------------------------------------------------------------

    def _object_path(self, key: str) -> Path:
        return self._root / "objects" / _checked(key)

    def _meta_path(self, key: str) -> Path:
        return self._root / "meta" / f"{_checked(key)}.json"

    def _write_meta(self, stored: StoredObject) -> None:
        path = self._meta_path(stored.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(
            {"size": stored.size, "type": stored.content_type, "sha256": stored.checksum}
        )
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".meta-", delete=False, encoding="utf-8"
        ) as handle:
            handle.write(body)
        os.replace(handle.name, path)

    def _sign(self, claims: dict[str, Any]) -> str:
        payload = _b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{_b64encode(self._mac(payload))}"

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._secret, b"portal-file-link." + payload.encode(), "sha256").digest()

    def _verify(self, token: str, purpose: str) -> dict[str, Any]:
        payload, _, signature = token.partition(".")
        try:
            given = _b64decode(signature)
        except (binascii.Error, ValueError):
            given = b""
        if not hmac.compare_digest(given, self._mac(payload)):
            logger.warning("file link refused: bad signature")
            raise InvalidLink
        claims: dict[str, Any] = json.loads(_b64decode(payload))
        if claims.get("p") != purpose:
            logger.warning("file link refused: made for %s, used for %s", claims.get("p"), purpose)
            raise InvalidLink
        if self._clock.now().timestamp() >= claims["e"]:
            logger.warning("file link refused: expired (key %s)", claims.get("k"))
            raise InvalidLink
        return claims


def _checked(key: str) -> str:
    """`key` if it is a relative path of plain segments; never `..`, absolute or odd."""
    if not _KEY.fullmatch(key):
        raise InvalidInput("Not a storage key.")
    return key


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
