"""The two reference apps of bench/web_portal.py, served by uvicorn exactly as the portal is.

- `memory_app`: a bare Litestar endpoint returning, from memory, a JSON body like the portal's
  case list page (the body is read once at start from `BENCH_BODY_FILE`).
- `orm_app`: a bare Litestar endpoint reading one row by primary key through the SQLAlchemy
  ORM (async, aiosqlite) from the portal's own database (`BENCH_DATABASE_URL`, `BENCH_ROW_ID`).

Both are uvicorn app factories (`--factory`), so importing this module builds nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, get
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry

from adapters.sql.tables import cases


class CaseRow:
    """The `cases` table, mapped for the ORM reference (the portal itself uses Core)."""

    id: str
    organisation_id: str
    reference: str
    subject: str
    status: str


def memory_app() -> Litestar:
    body: dict[str, Any] = json.loads(Path(os.environ["BENCH_BODY_FILE"]).read_text())

    @get("/reference/memory", sync_to_thread=False)
    def from_memory() -> dict[str, Any]:
        return body

    return Litestar(route_handlers=[from_memory], logging_config=None)


def orm_app() -> Litestar:
    mapper = registry()
    if not hasattr(CaseRow, "__mapper__"):
        mapper.map_imperatively(CaseRow, cases)
    url = os.environ["BENCH_DATABASE_URL"].replace("sqlite:///", "sqlite+aiosqlite:///", 1)
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    row_id = os.environ["BENCH_ROW_ID"]

    @get("/reference/orm", sync_to_thread=False)
    async def one_row() -> dict[str, str]:
        session: AsyncSession
        async with sessions() as session:
            row = await session.get(CaseRow, row_id)
        if row is None:
            raise LookupError(row_id)
        return {
            "id": row.id,
            "organisation_id": row.organisation_id,
            "reference": row.reference,
            "subject": row.subject,
            "status": row.status,
        }

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    return Litestar(route_handlers=[one_row], lifespan=[lifespan], logging_config=None)
