"""Errors as RFC 9457 problem details: every domain error maps to one status, here and only here.

A problem body always has `type`, `title`, `status` and `detail`. Domain errors add their stable
`code`; an unexpected error gets a generic body with a correlation id that is also in the log
next to the traceback, so support can find the cause without the client ever seeing it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException
from litestar.types import ExceptionHandlersMap

from adapters.local.files import UploadTooLarge
from entrypoints.web.operations import current_request_id
from portal_core.billing.pdfs import DocumentTampered
from portal_core.errors import (
    ConcurrencyConflict,
    Conflict,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)

log = logging.getLogger(__name__)

PROBLEM_TYPE_PREFIX = "urn:client-portal:problem:"
CORRELATION_HEADER = "X-Correlation-ID"
GENERIC_DETAIL = (
    "Something went wrong on our side. Quote the correlation id if you contact the firm about it."
)

DOMAIN_STATUS: Mapping[type[DomainError], tuple[HTTPStatus, str]] = {
    UploadTooLarge: (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Too large"),
    # A stored invoice PDF that no longer matches its SHA-256: the firm's fault, never served.
    DocumentTampered: (HTTPStatus.INTERNAL_SERVER_ERROR, "Integrity check failed"),
    NotFound: (HTTPStatus.NOT_FOUND, "Not found"),
    PermissionDenied: (HTTPStatus.FORBIDDEN, "Not allowed"),
    InvalidInput: (HTTPStatus.UNPROCESSABLE_ENTITY, "Invalid input"),
    InvalidTransition: (HTTPStatus.CONFLICT, "Not possible in the current state"),
    ConcurrencyConflict: (HTTPStatus.CONFLICT, "Changed by someone else"),
    Conflict: (HTTPStatus.CONFLICT, "Conflict"),
}


def problem_from_domain_error(error: DomainError) -> ProblemDetailsException:
    for kind in type(error).__mro__:
        if kind in DOMAIN_STATUS:
            status, title = DOMAIN_STATUS[kind]
            break
    else:  # a DomainError subclass outside the table is still a refusal, not a crash
        status, title = HTTPStatus.BAD_REQUEST, "Request refused"
    return ProblemDetailsException(
        status_code=status,
        type_=PROBLEM_TYPE_PREFIX + error.code,
        title=title,
        detail=error.message,
        extra={"code": error.code},
    )


def problem_from_http_exception(error: HTTPException) -> ProblemDetailsException:
    status = HTTPStatus(error.status_code)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        # Litestar's own 5xx details describe the server (configuration, handlers): log them.
        correlation_id = _log_unexpected(error, "HTTP exception")
        return ProblemDetailsException(
            status_code=status,
            type_="about:blank",
            title=status.phrase,
            detail=GENERIC_DETAIL,
            headers={**(error.headers or {}), CORRELATION_HEADER: correlation_id},
            extra={"correlation_id": correlation_id},
        )
    extra: dict[str, Any] | None = None
    if error.extra:
        # Validation errors: which parameter was wrong and why.
        extra = {"errors": error.extra}
    return ProblemDetailsException(
        status_code=status,
        type_="about:blank",
        title=status.phrase,
        detail=error.detail or status.description,
        headers=error.headers,
        extra=extra,
    )


def problem_details_config() -> ProblemDetailsConfig:
    mapping: dict[type[Exception], Any] = {
        DomainError: problem_from_domain_error,
        HTTPException: problem_from_http_exception,
    }
    return ProblemDetailsConfig(exception_to_problem_detail_map=mapping)


def _log_unexpected(error: Exception, where: str) -> str:
    # The request id is the correlation id: support finds every log line of the request by it.
    correlation_id = current_request_id() or uuid.uuid4().hex
    log.error("unexpected error %s (%s)", correlation_id, where, exc_info=error)
    return correlation_id


def internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    correlation_id = _log_unexpected(error, f"{request.method} {request.url.path}")
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    return Response(
        {
            "type": "about:blank",
            "title": status.phrase,
            "status": status.value,
            "detail": GENERIC_DETAIL,
            "correlation_id": correlation_id,
        },
        status_code=status,
        media_type="application/problem+json",
        headers={CORRELATION_HEADER: correlation_id},
    )


def unexpected_error_handlers() -> ExceptionHandlersMap:
    return {Exception: internal_error}
