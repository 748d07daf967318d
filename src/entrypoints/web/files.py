"""The links of the local-disk file store: uploads and downloads the portal serves itself.

With S3 the browser talks to S3; with the embedded default's `LocalDiskFileStore` these routes
play S3's part. A link's signed token is its whole authority (it names the key, purpose, expiry,
size limit and type), so the routes need no session and are exempt from CSRF checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from litestar import Controller, Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.params import Body, FromPath
from litestar.response import Response, Stream
from litestar.status_codes import HTTP_204_NO_CONTENT

from adapters.local.files import DOWNLOAD_PATH, UPLOAD_FILE_FIELD, UPLOAD_PATH, LocalDiskFileStore

READ_CHUNK = 64 * 1024
# The ticket's other fields and the multipart framing, beyond the file's own limit.
FORM_OVERHEAD = 64 * 1024

FileStoreDependency = NamedDependency[LocalDiskFileStore]


def local_file_routes(store: LocalDiskFileStore, *, max_file_size: int) -> Router:
    """Routes for `store`'s links; bodies past the file limit are cut off with 413."""

    def provide_store() -> LocalDiskFileStore:
        return store

    class LocalFileLinks(Controller):
        include_in_schema = False
        # Public: each link carries its own signature and expiry, checked by the store.
        opt = {"exclude_from_csrf": True, "skip_compression": True, "public": True}  # noqa: RUF012

        @post(
            f"{UPLOAD_PATH}{{token:str}}",
            status_code=HTTP_204_NO_CONTENT,
            request_max_body_size=max_file_size + FORM_OVERHEAD,
            sync_to_thread=True,
        )
        def upload(
            self,
            token: FromPath[str],
            data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
            file_store: FileStoreDependency,
        ) -> None:
            upload = data.get(UPLOAD_FILE_FIELD)
            if not isinstance(upload, UploadFile):
                raise ValidationException(f"The form has no `{UPLOAD_FILE_FIELD}` part.")
            content_type = data.get("Content-Type")
            file_store.accept_upload(
                token,
                _chunks(upload),
                content_type=content_type if isinstance(content_type, str) else None,
            )

        @get(f"{DOWNLOAD_PATH}{{token:str}}", sync_to_thread=True)
        def download(self, token: FromPath[str], file_store: FileStoreDependency) -> Response[Any]:
            found = file_store.open_download(token)
            headers = dict(found.headers)
            media_type = headers.pop("Content-Type")
            return Stream(found.chunks, media_type=media_type, headers=headers)

    return Router(
        path="/",
        route_handlers=[LocalFileLinks],
        dependencies={"file_store": Provide(provide_store, sync_to_thread=False)},
    )


def _chunks(upload: UploadFile) -> Iterator[bytes]:
    upload.file.seek(0)
    while chunk := upload.file.read(READ_CHUNK):
        yield chunk
