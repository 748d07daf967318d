"""Salesforce as the case system of record: REST adapter, inbound events, reconciliation.

with httpx.Client(timeout=30) as client:
    salesforce = build_salesforce(SalesforceSettings.from_env(os.environ), client)
    salesforce.case_system.create_case(case, account_id=...)
"""

from adapters.salesforce.api import ApiUsage, RetryPolicy, SalesforceApi
from adapters.salesforce.auth import (
    AccessToken,
    ClientCredentialsAuth,
    JwtBearerAuth,
    SalesforceAuth,
    TokenCache,
)
from adapters.salesforce.case_system import QueryPage, SalesforceCaseSystem
from adapters.salesforce.change_events import ChangeEventBatch, ChangeEventParser
from adapters.salesforce.errors import (
    ApiError,
    SalesforceAuthError,
    SalesforceError,
    SalesforceUnavailable,
)
from adapters.salesforce.inbound import (
    InboundReply,
    change_from_record,
    handle_change_event,
    handle_outbound_message,
)
from adapters.salesforce.mapping import (
    CaseFields,
    CaseRecord,
    CaseRecordCodec,
    FileReferenceObject,
    SalesforceMapping,
    dump_mapping,
    load_mapping,
)
from adapters.salesforce.outbound_messages import (
    ACK,
    ForeignOrganisation,
    MalformedMessage,
    OutboundMessage,
    OutboundMessageParser,
)
from adapters.salesforce.reconcile import (
    Checkpoint,
    FileCheckpoint,
    MemoryCheckpoint,
    ProgressCallback,
    ReconcileProgress,
    ReconcileReport,
    RichReconcileProgress,
    reconcile,
)
from adapters.salesforce.settings import (
    AuthFlow,
    SalesforceSettings,
    SalesforceSettingsError,
    SalesforceWiring,
    build_salesforce,
)

__all__ = [
    "ACK",
    "AccessToken",
    "ApiError",
    "ApiUsage",
    "AuthFlow",
    "CaseFields",
    "CaseRecord",
    "CaseRecordCodec",
    "ChangeEventBatch",
    "ChangeEventParser",
    "Checkpoint",
    "ClientCredentialsAuth",
    "FileCheckpoint",
    "FileReferenceObject",
    "ForeignOrganisation",
    "InboundReply",
    "JwtBearerAuth",
    "MalformedMessage",
    "MemoryCheckpoint",
    "OutboundMessage",
    "OutboundMessageParser",
    "ProgressCallback",
    "QueryPage",
    "ReconcileProgress",
    "ReconcileReport",
    "RetryPolicy",
    "RichReconcileProgress",
    "SalesforceApi",
    "SalesforceAuth",
    "SalesforceAuthError",
    "SalesforceCaseSystem",
    "SalesforceError",
    "SalesforceMapping",
    "SalesforceSettings",
    "SalesforceSettingsError",
    "SalesforceUnavailable",
    "SalesforceWiring",
    "TokenCache",
    "build_salesforce",
    "change_from_record",
    "dump_mapping",
    "handle_change_event",
    "handle_outbound_message",
    "load_mapping",
    "reconcile",
]
