"""Notifications: who is told of what, by e-mail from the outbox and live on open pages."""

from portal_core.notifications.live import (
    LivePublishing,
    case_update,
    invoice_update,
    timeline_text,
)
from portal_core.notifications.messages import STATUS_LABELS, Message, Site
from portal_core.notifications.preferences import (
    KIND_LABELS,
    MANDATORY_KINDS,
    OPTIONAL_KINDS,
    NotificationKind,
    NotificationPreferenceRepository,
    NotificationPreferences,
    NotificationPreferencesService,
    kind_named,
)
from portal_core.notifications.service import (
    EmailNotices,
    OnceOnlyNotifier,
    PreferenceRespectingNotifier,
)

__all__ = [
    "KIND_LABELS",
    "MANDATORY_KINDS",
    "OPTIONAL_KINDS",
    "STATUS_LABELS",
    "EmailNotices",
    "LivePublishing",
    "Message",
    "NotificationKind",
    "NotificationPreferenceRepository",
    "NotificationPreferences",
    "NotificationPreferencesService",
    "OnceOnlyNotifier",
    "PreferenceRespectingNotifier",
    "Site",
    "case_update",
    "invoice_update",
    "kind_named",
    "timeline_text",
]
