"""Files on Amazon S3: browsers upload and download straight to and from the bucket through
presigned POST forms and presigned GET links, so file bytes never pass through the portal
except for the content check's first kilobytes and a case's zip.

The POST policy carries every limit S3 enforces for us: the exact key, the content type and
`content-length-range` 1..max, and a short expiry. Confirmed objects keep their SHA-256 in the
object's metadata (`x-amz-meta-sha256`), written when they are moved out of `incoming/`.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from portal_core.cases.files import content_disposition
from portal_core.errors import NotFound
from portal_core.ports import Clock, StoredObject, UploadTicket

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK_SIZE = 256 * 1024
DEFAULT_MAX_LINK_LIFE = timedelta(minutes=15)
S3_MAX_LINK_LIFE = timedelta(days=7)
CHECKSUM_METADATA = "sha256"
REMEMBERED_CHECKSUMS = 64
SPOOL_IN_MEMORY = 8 * 1024 * 1024
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3FileStore:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        clock: Clock,
        max_link_life: timedelta = DEFAULT_MAX_LINK_LIFE,
    ) -> None:
        if max_link_life > S3_MAX_LINK_LIFE:
            raise ValueError("S3 presigned links live at most 7 days; keep them to minutes.")
        self._client = client
        self._bucket = bucket
        self._clock = clock
        self._max_link_life = max_link_life
        # Unconfirmed objects are hashed by reading them; confirming reads the same object
        # twice (check, then move), so remember the last few by key and ETag.
        self._checksums: OrderedDict[tuple[str, str], str] = OrderedDict()

    @property
    def upload_origin(self) -> str:
        """Where browsers send uploads (scheme and host of the presigned POST), for the pages'
        content security policy. Signing is local: this makes no request."""
        url = self._client.generate_presigned_post(Bucket=self._bucket, Key="origin-probe")["url"]
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def upload_ticket(
        self, key: str, *, content_type: str, max_size: int, expires_in: timedelta
    ) -> UploadTicket:
        life = self._life(expires_in)
        now = self._clock.now()
        # Fields only fill the form; the conditions are what S3 checks against the policy.
        post = self._client.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, max_size],
            ],
            ExpiresIn=life,
        )
        return UploadTicket(
            url=post["url"],
            fields={name: str(value) for name, value in post["fields"].items()},
            key=key,
            expires_at=now + timedelta(seconds=life),
            max_size=max_size,
        )

    def describe(self, key: str) -> StoredObject | None:
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                return None
            raise
        checksum = head.get("Metadata", {}).get(CHECKSUM_METADATA)
        if checksum is None:
            # Not yet confirmed: the browser's upload carries no checksum we can trust.
            checksum = self._hash(key, head.get("ETag", ""))
        return StoredObject(
            key=key,
            size=head["ContentLength"],
            content_type=head.get("ContentType", "application/octet-stream"),
            checksum=checksum,
        )

    def write(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        """Spooled to disk past a few MB while hashing, then sent with its checksum."""
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as buffer:
            for chunk in chunks:
                size += len(chunk)
                digest.update(chunk)
                buffer.write(chunk)
            buffer.seek(0)
            checksum = digest.hexdigest()
            self._client.upload_fileobj(
                buffer,
                self._bucket,
                key,
                ExtraArgs={"ContentType": content_type, "Metadata": {CHECKSUM_METADATA: checksum}},
            )
        return StoredObject(key=key, size=size, content_type=content_type, checksum=checksum)

    def download_link(
        self, key: str, *, display_name: str, content_type: str, expires_in: timedelta
    ) -> str:
        return self._client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition(display_name),
                "ResponseContentType": content_type,
                "ResponseCacheControl": "private, no-store",
            },
            ExpiresIn=self._life(expires_in),
        )

    def read(self, key: str) -> Iterator[bytes]:
        try:
            body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
        except ClientError as error:
            if _is_missing(error):
                raise NotFound("No such file.") from None
            raise
        try:
            yield from body.iter_chunks(CHUNK_SIZE)
        finally:
            body.close()

    def read_head(self, key: str, size: int) -> bytes:
        if size <= 0:
            return b""
        try:
            answer = self._client.get_object(
                Bucket=self._bucket, Key=key, Range=f"bytes=0-{size - 1}"
            )
        except ClientError as error:
            if _is_missing(error):
                raise NotFound("No such file.") from None
            if error.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""  # an empty object has no first byte
            raise
        with answer["Body"] as body:
            return body.read()[:size]

    def move(self, key: str, new_key: str) -> StoredObject:
        stored = self.describe(key)
        if stored is None:
            raise NotFound("No such file.")
        self._client.copy_object(
            Bucket=self._bucket,
            Key=new_key,
            CopySource={"Bucket": self._bucket, "Key": key},
            MetadataDirective="REPLACE",
            ContentType=stored.content_type,
            Metadata={CHECKSUM_METADATA: stored.checksum},
        )
        self._client.delete_object(Bucket=self._bucket, Key=key)
        return StoredObject(
            key=new_key,
            size=stored.size,
            content_type=stored.content_type,
            checksum=stored.checksum,
        )

    def usage(self, prefix: str) -> int:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        )
        return sum(item["Size"] for page in pages for item in page.get("Contents", []))

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)

    def _life(self, expires_in: timedelta) -> int:
        """Seconds a link lives: as asked, never longer than the configured maximum."""
        return max(1, int(min(expires_in, self._max_link_life).total_seconds()))

    def _hash(self, key: str, etag: str) -> str:
        remembered = self._checksums.get((key, etag))
        if remembered is not None:
            return remembered
        digest = hashlib.sha256()
        for chunk in self.read(key):
            digest.update(chunk)
        checksum = digest.hexdigest()
        self._checksums[(key, etag)] = checksum
        while len(self._checksums) > REMEMBERED_CHECKSUMS:
            self._checksums.popitem(last=False)
        return checksum


def _is_missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING
