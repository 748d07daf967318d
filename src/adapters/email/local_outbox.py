"""The embedded default's e-mail: each message written as a `.eml` file in a folder.

Open the files with any mail program, or read them as text. A notification's file name comes
from its dedupe key, so a notification sent twice is written once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from adapters.email.message import build_message
from portal_core.ports import Notification

log = logging.getLogger(__name__)


class LocalOutboxNotifier:
    def __init__(self, directory: Path, *, sender: str) -> None:
        self.directory = directory
        self._sender = sender

    def path_for(self, notification: Notification) -> Path:
        digest = hashlib.sha256(notification.dedupe_key.encode()).hexdigest()[:24]
        return self.directory / f"{notification.kind}-{digest}.eml"

    def send(self, notification: Notification) -> None:
        path = self.path_for(notification)
        if path.exists():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        data = bytes(build_message(notification, sender=self._sender))
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".writing-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        # Written whole, then renamed: a reader never sees half a message.
        os.replace(temporary, path)
        log.info("e-mail to %s kept in %s", notification.to, path)

    def messages(self) -> list[Path]:
        """The e-mails written so far, oldest first."""
        if not self.directory.exists():
            return []
        return sorted(self.directory.glob("*.eml"), key=lambda path: path.stat().st_mtime_ns)
