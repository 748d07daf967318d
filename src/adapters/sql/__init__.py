"""SQL storage for the portal: SQLite (embedded default) and PostgreSQL, with SQLAlchemy 2.

storage = SqlStorage.from_url("sqlite:///portal.db")
storage.prepare()          # SQLite migrates itself; PostgreSQL must be current
with storage.unit_of_work() as uow:
    ...
    uow.commit()
"""

from adapters.sql.errors import SchemaOutOfDate, StorageUnavailable
from adapters.sql.storage import AuditVerification, SqlStorage
from adapters.sql.unit_of_work import SqlUnitOfWork

__all__ = [
    "AuditVerification",
    "SchemaOutOfDate",
    "SqlStorage",
    "SqlUnitOfWork",
    "StorageUnavailable",
]
