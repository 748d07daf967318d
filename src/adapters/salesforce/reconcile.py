"""Reconciliation: pull the cases changed in Salesforce since a time through the same
idempotency layer as live events. For onboarding a client's existing cases, and for healing
after missed events.

Idempotent: each record version is applied under the id `<case id>@<LastModifiedDate>`, so a
second run (or a resumed one re-reading its last page) finds duplicates and changes nothing.
Resumable: after each page is committed, the newest LastModifiedDate of that page is saved to
the checkpoint; the next run starts there (records at that very instant are read again and
recognised as duplicates). Cases of accounts no organisation mirrors are skipped and counted.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from attrs import frozen
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from adapters.salesforce.case_system import SalesforceCaseSystem
from adapters.salesforce.inbound import change_from_record
from adapters.salesforce.mapping import parse_datetime
from portal_core.sync import SOURCE_RECONCILIATION, SyncService

log = logging.getLogger(__name__)


class Checkpoint(Protocol):
    def load(self) -> datetime | None: ...
    def save(self, position: datetime) -> None: ...


class FileCheckpoint:
    """The position in a small JSON file, replaced atomically so a crash never corrupts it."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def load(self) -> datetime | None:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return parse_datetime(str(data["since"]))

    def save(self, position: datetime) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".checkpoint-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"since": position.isoformat()}, out)
        os.replace(temporary, self._path)


class MemoryCheckpoint:
    def __init__(self, position: datetime | None = None) -> None:
        self.position = position

    def load(self) -> datetime | None:
        return self.position

    def save(self, position: datetime) -> None:
        self.position = position


@frozen(kw_only=True)
class ReconcileProgress:
    """Reported after each committed page, for a progress bar."""

    records_done: int
    records_total: int | None
    pages_done: int
    position: datetime | None


class ProgressCallback(Protocol):
    def __call__(self, progress: ReconcileProgress) -> None: ...


class RichReconcileProgress:
    """A progress bar for the CLI: `with RichReconcileProgress() as bar: reconcile(..., progress=bar)`."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[position]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> Self:
        self._progress.start()
        self._task = self._progress.add_task("Reconciling cases", total=None, position="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def __call__(self, progress: ReconcileProgress) -> None:
        if self._task is None:
            raise RuntimeError("Use RichReconcileProgress inside a `with` block.")
        self._progress.update(
            self._task,
            completed=progress.records_done,
            total=progress.records_total,
            position=f"up to {progress.position:%Y-%m-%d %H:%M:%S}" if progress.position else "",
        )


@frozen(kw_only=True)
class ReconcileReport:
    started_from: datetime
    pages: int
    records: int
    applied: int
    imported: int
    duplicates: int
    stale: int
    unchanged: int
    skipped: int
    """Cases of accounts no organisation mirrors (or of no account)."""


def reconcile(
    case_system: SalesforceCaseSystem,
    sync: SyncService,
    since: datetime,
    *,
    checkpoint: Checkpoint | None = None,
    progress: ProgressCallback | None = None,
) -> ReconcileReport:
    """Apply every case changed at or after `since` (or after the checkpoint, if later)."""
    saved = checkpoint.load() if checkpoint is not None else None
    start = max(since, saved) if saved is not None else since
    accounts = sync.linked_accounts()
    totals = {"applied": 0, "imported": 0, "duplicates": 0, "stale": 0, "unchanged": 0}
    pages = records = skipped = 0
    position: datetime | None = None
    for page in case_system.changed_pages(start):
        changes = []
        for record in page.records:
            if record.account_id not in accounts:
                skipped += 1
                continue
            changes.append(
                change_from_record(
                    record,
                    codec=case_system.codec,
                    source=SOURCE_RECONCILIATION,
                    event_id=f"{record.id}@{record.last_modified.isoformat() if record.last_modified else ''}",
                )
            )
        result = sync.apply(changes)
        for name in totals:
            totals[name] += getattr(result, name)
        pages += 1
        records += len(page.records)
        stamps = [r.last_modified for r in page.records if r.last_modified is not None]
        if stamps:
            position = max(stamps)
            if checkpoint is not None:
                checkpoint.save(position)
        if progress is not None:
            progress(
                ReconcileProgress(
                    records_done=records,
                    records_total=page.total,
                    pages_done=pages,
                    position=position,
                )
            )
    report = ReconcileReport(
        started_from=start, pages=pages, records=records, skipped=skipped, **totals
    )
    log.info("reconciliation done: %s", report)
    return report
