"""Liveness and readiness probes for load balancers and orchestrators.

`/healthz` answers as long as the process serves requests; `/readyz` also proves the storage
answers a trivial unit of work, so traffic is routed here only when requests can succeed.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from entrypoints.web.auth import SKIP_PRINCIPAL
from entrypoints.web.dependencies import PortalContainer

log = logging.getLogger(__name__)

PROBE_ID = "readiness-probe"


class HealthController(Controller):
    tags = ["health"]  # noqa: RUF012 (Litestar reads these class attributes)
    opt = {  # noqa: RUF012
        "exclude_from_csrf": True,
        "skip_compression": True,
        "public": True,
        "skip_rate_limit": True,  # probes come often, from the orchestrator's one address
        SKIP_PRINCIPAL: True,  # nobody's identity matters to a probe
    }

    @get("/healthz", sync_to_thread=False, summary="The process is alive")
    def liveness(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", sync_to_thread=True, summary="The portal can serve requests")
    def readiness(self, container: PortalContainer) -> Response[dict[str, Any]]:
        try:
            with container.uow(read_only=True) as uow:
                uow.organisations.get(PROBE_ID)
        except Exception:  # any storage failure means "not ready"; the cause goes to the log
            log.exception("readiness check failed: storage did not answer")
            return Response(
                {"status": "unavailable", "checks": {"storage": "failing"}},
                status_code=HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Cache-Control": "no-store"},
            )
        return Response(
            {"status": "ready", "checks": {"storage": "ok"}},
            status_code=HTTP_200_OK,
            headers={"Cache-Control": "no-store"},
        )
