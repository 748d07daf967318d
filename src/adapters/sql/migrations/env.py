"""Alembic's environment, driven by `SqlStorage.upgrade()` with a connection it has opened.

There is no alembic.ini: the storage builds the configuration in code, so migrations run the
same from a source checkout and from an installed wheel (`portal db upgrade`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from adapters.sql.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "Run the portal's migrations with `portal db upgrade` "
        "(SqlStorage.upgrade()), which hands Alembic its connection."
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
