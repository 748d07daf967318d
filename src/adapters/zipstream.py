"""All files of a case as one zip, streamed: bytes go out as they are read from the store.

The standard library's `zipfile` writes to a sink that cannot seek, so it puts each member's
sizes and CRC in a data descriptor after the data instead of going back to patch the header;
the sink is drained after every chunk, so memory holds one chunk and the central directory,
never a whole file. (A dependency such as `zipstream-ng` or `stream-zip` would do the same.)
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator

from portal_core.cases.uploads import ArchiveEntry
from portal_core.ports import FileStore

_ZIP64_THRESHOLD = zipfile.ZIP64_LIMIT // 2


class _Drain:
    """A write-only, unseekable file for zipfile: it collects what was written until taken."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered beyond `_parts`, which `take` hands on."""

    def close(self) -> None:
        """The caller takes what is left after the archive is closed."""

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def stream_zip(files: FileStore, entries: Iterable[ArchiveEntry]) -> Iterator[bytes]:
    """The zip of `entries` (from `portal_core.cases.uploads.archive_entries`), in chunks."""
    sink = _Drain()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, date_time=entry.modified_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED if entry.compress else zipfile.ZIP_STORED
            info.file_size = entry.size
            force_zip64 = entry.size > _ZIP64_THRESHOLD
            with archive.open(info, mode="w", force_zip64=force_zip64) as member:
                for chunk in files.read(entry.storage_key):
                    member.write(chunk)
                    if data := sink.take():
                        yield data
            if data := sink.take():
                yield data
    if data := sink.take():
        yield data
