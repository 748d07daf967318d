"""In-memory fakes of every port: public API for tests of the core and of downstream systems.

Each fake is checked against the real adapters by the contract suites in `tests/contract/`,
so code tested against these fakes behaves the same against SQL, S3, Cognito or Salesforce.

    storage = InMemoryStorage()
    service = CaseService(uow=storage.unit_of_work, clock=FixedClock(), ids=SequentialIds(), ...)
"""

from adapters.memory.clock import FixedClock, SequentialIds
from adapters.memory.files import InMemoryFileStore
from adapters.memory.notifications import InMemoryNotificationPreferences
from adapters.memory.outside import (
    InMemoryCaseSystem,
    InMemoryIdentityProvider,
    InMemoryNotifier,
    InMemoryPublisher,
)
from adapters.memory.store import InMemoryState, InMemoryStorage, InMemoryUnitOfWork

__all__ = [
    "FixedClock",
    "InMemoryCaseSystem",
    "InMemoryFileStore",
    "InMemoryIdentityProvider",
    "InMemoryNotificationPreferences",
    "InMemoryNotifier",
    "InMemoryPublisher",
    "InMemoryState",
    "InMemoryStorage",
    "InMemoryUnitOfWork",
    "SequentialIds",
]
