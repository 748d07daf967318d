"""Two-way sync with the case system of record (Salesforce, or the portal's own database).

Inbound: adapters translate outbound messages, change events and reconciliation pages into
`InboundCaseChange`s; `SyncService.apply` is the one idempotency layer they all go through.
Outbound: `CaseSystemWriter` handlers, run by the outbox relay, write the portal's changes back.
"""

from portal_core.sync.changes import (
    SOURCE_CHANGE_EVENT,
    SOURCE_OUTBOUND_MESSAGE,
    SOURCE_RECONCILIATION,
    SYNC_ACTOR,
    InboundCaseChange,
    IncompleteChange,
    SyncResult,
    UnknownAccount,
)
from portal_core.sync.outbound import (
    CaseDetailsUpdates,
    CaseFileReferences,
    CaseSystemWriter,
    FileLink,
    is_pending,
)
from portal_core.sync.service import SyncService
from portal_core.sync.signatures import SignatureInvalid, sign, verify_signature

__all__ = [
    "SOURCE_CHANGE_EVENT",
    "SOURCE_OUTBOUND_MESSAGE",
    "SOURCE_RECONCILIATION",
    "SYNC_ACTOR",
    "CaseDetailsUpdates",
    "CaseFileReferences",
    "CaseSystemWriter",
    "FileLink",
    "InboundCaseChange",
    "IncompleteChange",
    "SignatureInvalid",
    "SyncResult",
    "SyncService",
    "UnknownAccount",
    "is_pending",
    "sign",
    "verify_signature",
]
