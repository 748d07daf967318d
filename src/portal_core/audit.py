"""The audit trail: append-only, and tamper-evident through a hash chain.

Each entry's hash covers its own content and the hash of the entry before it, so changing,
removing or reordering any stored entry breaks every hash after it; `first_broken_entry`
names the first entry at which a stored chain stops adding up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from attrs import frozen

GENESIS_HASH = "0" * 64


@frozen(kw_only=True)
class AuditRecord:
    """What happened, by whom, to what: written in the same transaction as the change."""

    id: str
    at: datetime
    actor_id: str
    organisation_id: str | None
    action: str
    subject_type: str
    subject_id: str
    details: Mapping[str, str]


@frozen(kw_only=True)
class SealedAuditRecord:
    """An audit record at its place in the chain."""

    sequence: int
    record: AuditRecord
    previous_hash: str
    hash: str


def canonical_bytes(record: AuditRecord) -> bytes:
    """A stable serialisation: the same record always hashes to the same value."""
    payload = {
        "id": record.id,
        "at": record.at.isoformat(),
        "actor_id": record.actor_id,
        "organisation_id": record.organisation_id,
        "action": record.action,
        "subject_type": record.subject_type,
        "subject_id": record.subject_id,
        "details": dict(sorted(record.details.items())),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(previous_hash: str, record: AuditRecord) -> str:
    return hashlib.sha256(previous_hash.encode() + b"\n" + canonical_bytes(record)).hexdigest()


def seal(record: AuditRecord, *, after: SealedAuditRecord | None) -> SealedAuditRecord:
    if after is None:
        return seal_next(record, last_sequence=0, last_hash=GENESIS_HASH)
    return seal_next(record, last_sequence=after.sequence, last_hash=after.hash)


def seal_next(record: AuditRecord, *, last_sequence: int, last_hash: str) -> SealedAuditRecord:
    """Seal `record` after the chain's head, known only by its sequence and hash (0 = empty)."""
    previous_hash = last_hash if last_sequence else GENESIS_HASH
    return SealedAuditRecord(
        sequence=last_sequence + 1,
        record=record,
        previous_hash=previous_hash,
        hash=chain_hash(previous_hash, record),
    )


def first_broken_entry(chain: Iterable[SealedAuditRecord]) -> SealedAuditRecord | None:
    """The first entry whose link or hash does not add up, or None when the chain is intact."""
    expected_previous = GENESIS_HASH
    expected_sequence = 1
    for entry in chain:
        if (
            entry.sequence != expected_sequence
            or entry.previous_hash != expected_previous
            or entry.hash != chain_hash(entry.previous_hash, entry.record)
        ):
            return entry
        expected_previous = entry.hash
        expected_sequence += 1
    return None
