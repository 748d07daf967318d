"""Which files the portal accepts, judged by their content rather than by what the browser says.

A browser reports whatever type the operating system guesses from the file name, and an
attacker reports whatever type gets a file through. So every upload is checked twice: the
declared type must be on the allow-list, and the first bytes of the stored content must be
that kind of file. HTML, SVG and scripts are never accepted, whatever they claim to be,
because a browser that renders them would run them with the portal's authority.
"""

from __future__ import annotations

import enum
import re

from attrs import frozen

HEAD_SIZE = 8192
"""How many leading bytes the content check reads: enough for every signature and polyglot
marker below, small enough to fetch with one ranged read."""


class ContentFamily(enum.Enum):
    PDF = "pdf"
    PNG = "png"
    JPEG = "jpeg"
    GIF = "gif"
    WEBP = "webp"
    ZIP = "zip"
    TEXT = "text"
    JSON = "json"
    XML = "xml"


@frozen(kw_only=True)
class AllowedType:
    content_type: str
    family: ContentFamily
    extensions: tuple[str, ...]
    compressed: bool
    """Already compressed: an archive stores it as is instead of deflating it again."""


def _allowed(
    content_type: str, family: ContentFamily, *extensions: str, compressed: bool = True
) -> AllowedType:
    return AllowedType(
        content_type=content_type, family=family, extensions=extensions, compressed=compressed
    )


_OOXML = "application/vnd.openxmlformats-officedocument"
ALLOWED_TYPES: dict[str, AllowedType] = {
    allowed.content_type: allowed
    for allowed in (
        _allowed("application/pdf", ContentFamily.PDF, "pdf"),
        _allowed("image/png", ContentFamily.PNG, "png"),
        _allowed("image/jpeg", ContentFamily.JPEG, "jpg", "jpeg"),
        _allowed("image/gif", ContentFamily.GIF, "gif"),
        _allowed("image/webp", ContentFamily.WEBP, "webp"),
        _allowed("application/zip", ContentFamily.ZIP, "zip"),
        _allowed(f"{_OOXML}.wordprocessingml.document", ContentFamily.ZIP, "docx"),
        _allowed(f"{_OOXML}.spreadsheetml.sheet", ContentFamily.ZIP, "xlsx"),
        _allowed(f"{_OOXML}.presentationml.presentation", ContentFamily.ZIP, "pptx"),
        _allowed(
            "text/plain",
            ContentFamily.TEXT,
            *("txt", "log", "conf", "config", "cfg", "ini", "toml", "yaml", "yml", "properties"),
            compressed=False,
        ),
        _allowed("text/csv", ContentFamily.TEXT, "csv", compressed=False),
        _allowed("text/markdown", ContentFamily.TEXT, "md", compressed=False),
        _allowed("application/json", ContentFamily.JSON, "json", compressed=False),
        _allowed("application/xml", ContentFamily.XML, "xml", compressed=False),
    )
}

# Types browsers report for allowed files under another name.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "application/x-zip-compressed": "application/zip",
    "application/x-pdf": "application/pdf",
    "text/xml": "application/xml",
    "text/x-log": "text/plain",
    "application/yaml": "text/plain",
    "application/x-yaml": "text/plain",
    "text/yaml": "text/plain",
    "text/x-markdown": "text/markdown",
    "application/csv": "text/csv",
}
# What a browser sends when it has no idea: then the file name's extension decides.
_UNKNOWN_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
_BY_EXTENSION = {ext: allowed for allowed in ALLOWED_TYPES.values() for ext in allowed.extensions}


class Refusal(enum.Enum):
    """Why a file is refused. Each value is the message shown to the person uploading."""

    EMPTY = "The file is empty."
    TOO_LARGE = "The file is larger than the limit of {limit}."
    TYPE_NOT_ALLOWED = (
        "Files of this type cannot be uploaded. Allowed: PDF, images (PNG, JPEG, GIF, WebP), "
        "text, logs, CSV, JSON, XML, ZIP and Office documents (docx, xlsx, pptx)."
    )
    CONTENT_MISMATCH = "The file's content does not match its type ({declared})."
    ACTIVE_CONTENT = "The file contains web page or script content, which is not accepted."

    @property
    def quarantines(self) -> bool:
        """A stored file refused for this reason is kept aside for review, not just deleted:
        it may be an attack, and someone should be able to look at it."""
        return self in (Refusal.CONTENT_MISMATCH, Refusal.ACTIVE_CONTENT)


@frozen(kw_only=True)
class ContentVerdict:
    """The outcome of a check: the accepted type, or the reason for refusing the file."""

    content_type: str | None
    refusal: Refusal | None
    message: str

    @property
    def accepted(self) -> bool:
        return self.refusal is None

    @classmethod
    def accept(cls, content_type: str) -> ContentVerdict:
        return cls(content_type=content_type, refusal=None, message="")

    @classmethod
    def refuse(cls, refusal: Refusal, **details: str) -> ContentVerdict:
        return cls(content_type=None, refusal=refusal, message=refusal.value.format(**details))


def format_size(size: int) -> str:
    """A size as people read it: `25 MB`, `512 kB`, `300 bytes` (decimal units, like browsers)."""
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def normalise_type(declared: str) -> str:
    """`Image/JPG; charset=x` → `image/jpeg`: lower case, no parameters, aliases resolved."""
    bare = declared.split(";", 1)[0].strip().lower()
    return _ALIASES.get(bare, bare)


def resolve_declared_type(declared: str, display_name: str) -> ContentVerdict:
    """The allowed type an upload is declared as, from the browser's type or, when the browser
    did not know, from the file name's extension."""
    content_type = normalise_type(declared)
    if content_type in _UNKNOWN_TYPES:
        _, dot, extension = display_name.rpartition(".")
        found = _BY_EXTENSION.get(extension.lower()) if dot else None
        content_type = found.content_type if found else ""
    if content_type not in ALLOWED_TYPES:
        return ContentVerdict.refuse(Refusal.TYPE_NOT_ALLOWED)
    return ContentVerdict.accept(content_type)


def check_size(size: int, max_size: int) -> ContentVerdict | None:
    """A refusal when `size` is outside 1..`max_size` bytes, else None."""
    if size <= 0:
        return ContentVerdict.refuse(Refusal.EMPTY)
    if size > max_size:
        return ContentVerdict.refuse(Refusal.TOO_LARGE, limit=format_size(max_size))
    return None


def check_upload(declared_type: str, size: int, head: bytes, max_size: int) -> ContentVerdict:
    """Judge a stored upload: its size, its declared type, and its first bytes (`head`, at
    least `HEAD_SIZE` of them unless the file is shorter)."""
    by_size = check_size(size, max_size)
    if by_size is not None:
        return by_size
    content_type = normalise_type(declared_type)
    allowed = ALLOWED_TYPES.get(content_type)
    if allowed is None:
        return ContentVerdict.refuse(Refusal.TYPE_NOT_ALLOWED)
    truncated = size > len(head)
    if _has_active_markup(allowed.family, head):
        return ContentVerdict.refuse(Refusal.ACTIVE_CONTENT)
    if not _matches(allowed.family, head, truncated=truncated):
        return ContentVerdict.refuse(Refusal.CONTENT_MISMATCH, declared=content_type)
    return ContentVerdict.accept(content_type)


def detect_family(head: bytes, *, truncated: bool = False) -> ContentFamily | None:
    """The kind of file `head` starts, by its magic number; TEXT for UTF-8 text; else None."""
    for family in (
        ContentFamily.PDF,
        ContentFamily.PNG,
        ContentFamily.JPEG,
        ContentFamily.GIF,
        ContentFamily.WEBP,
        ContentFamily.ZIP,
    ):
        if _matches(family, head, truncated=truncated):
            return family
    if _text(head, truncated=truncated) is not None:
        return ContentFamily.TEXT
    return None


def served_content_type(content_type: str) -> str:
    """The fixed type a download is served with: an allowed type (text with its charset), or
    `application/octet-stream` for anything stored before the allow-list changed."""
    allowed = ALLOWED_TYPES.get(normalise_type(content_type))
    if allowed is None:
        return "application/octet-stream"
    if allowed.family in (ContentFamily.TEXT, ContentFamily.JSON, ContentFamily.XML):
        return f"{allowed.content_type}; charset=utf-8"
    return allowed.content_type


def is_compressed(content_type: str) -> bool:
    """Whether content of this type is already compressed (deflating it again gains nothing)."""
    allowed = ALLOWED_TYPES.get(normalise_type(content_type))
    return allowed is None or allowed.compressed


# --- signatures ------------------------------------------------------------------------------

_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_BINARY_SIGNATURES: dict[ContentFamily, tuple[bytes, ...]] = {
    # A PDF reader accepts `%PDF-` anywhere in the first kilobyte, which is how PDF/HTML
    # polyglots work; we insist on it at the very start.
    ContentFamily.PDF: (b"%PDF-",),
    ContentFamily.PNG: (b"\x89PNG\r\n\x1a\n",),
    ContentFamily.JPEG: (b"\xff\xd8\xff",),
    ContentFamily.GIF: (b"GIF87a", b"GIF89a"),
    ContentFamily.ZIP: _ZIP_SIGNATURES,
}

# What makes a browser treat bytes as a web page: the HTML sniffing patterns of the WHATWG
# MIME Sniffing standard (at the start, after white space), plus SVG.
_PAGE_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*<(?:!doctype\s+html|html|head|body|script|iframe|svg|object|embed|"
    rb"style|title|a\s|br|p[\s>]|div|table|font|h1|img|!--)",
    re.IGNORECASE,
)
_XML_DECLARATION = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?xml\s", re.IGNORECASE)
# XML runs script only as SVG or XHTML, or when a stylesheet turns it into a page; elements
# that merely share a name (an Ant `<script>` task, a SOAP `<Body>`) are inert.
_ACTIVE_IN_XML = re.compile(
    rb"<(?:svg|html)[\s>/]|<!doctype\s+html|<\?xml-stylesheet|"
    rb"xmlns(?::[\w.-]+)?\s*=\s*[\"']http://www\.w3\.org/(?:2000/svg|1999/xhtml)",
    re.IGNORECASE,
)
# Markup that no image, PDF or archive holds by accident in its first kilobytes.
_ACTIVE_IN_BINARY = re.compile(
    rb"<(?:script|svg|html|iframe|object|embed|body)[\s>/]|<!doctype\s+html|"
    rb"<\?xml-stylesheet|xmlns(?::[\w.-]+)?\s*=\s*[\"']http://www\.w3\.org/(?:2000/svg|1999/xhtml)|"
    rb"javascript:",
    re.IGNORECASE,
)


def _matches(family: ContentFamily, head: bytes, *, truncated: bool) -> bool:
    if family in _BINARY_SIGNATURES:
        return head.startswith(_BINARY_SIGNATURES[family])
    if family is ContentFamily.WEBP:
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    text = _text(head, truncated=truncated)
    if text is None:
        return False
    start = text.lstrip("\ufeff \t\r\n")
    if family is ContentFamily.JSON:
        return start[:1] in ("{", "[")
    if family is ContentFamily.XML:
        return start.startswith("<")
    return True


def _text(head: bytes, *, truncated: bool) -> str | None:
    """`head` as text if it is UTF-8 without NUL bytes (binary files nearly always have one)."""
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The head of a longer file may end in the middle of a character.
        if truncated and error.start >= len(head) - 3 and error.reason == "unexpected end of data":
            return head[: error.start].decode("utf-8")
        return None


def _has_active_markup(family: ContentFamily, head: bytes) -> bool:
    if family in (ContentFamily.TEXT, ContentFamily.JSON):
        if _XML_DECLARATION.match(head):
            # An XML configuration file sent as text: judged as XML.
            return bool(_ACTIVE_IN_XML.search(head))
        # Logs and data may quote markup (a web server's log of an attack, say); they are
        # served as attachments of a fixed type, so only a file that *is* a page is refused.
        return bool(_PAGE_START.match(head))
    if family is ContentFamily.XML:
        return bool(_ACTIVE_IN_XML.search(head))
    # A binary file with markup in its head is a polyglot built to be read as a page too.
    return bool(_ACTIVE_IN_BINARY.search(head))
