"""Signing in and out, invitations, password resets and the authenticator app (TOTP).

One sign-in form asks for the e-mail address, the password and, for people who set up an
authenticator app, its code: asking for the code only after a right password would tell an
attacker that the password was right. Every failure gets the same message.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from entrypoints.web.auth import (
    PUBLIC,
    expired_session_cookie,
    requires_signed_in,
    session_cookie,
    session_cookie_name,
)
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from entrypoints.web.operations import SIGN_IN_RATE_LIMIT
from entrypoints.web.pages.rendering import (
    PAGE_OPT,
    SIGN_IN_PATH,
    in_thread,
    is_local_path,
    page,
    read_form,
    see_other,
    text_field,
)
from portal_core.errors import InvalidInput, InvalidTransition
from portal_core.identity.service import SIGN_IN_FAILED, LinkNotValid, SignInThrottled
from portal_core.ports import AuthenticationFailed

DEFAULT_LANDING = "/dashboard"


class SignInPages(Controller):
    """The pages anyone may open: sign-in, invitation links, password resets."""

    include_in_schema = False
    # Their forms (POSTs) get the stricter per-address request limit of sign-in attempts.
    opt = {**PAGE_OPT, **PUBLIC, **SIGN_IN_RATE_LIMIT}  # noqa: RUF012 (Litestar reads these)

    @get(SIGN_IN_PATH, sync_to_thread=False)
    def sign_in_form(self, request: Request[Any, Any, Any], container: PortalContainer) -> Template:
        return page(
            request,
            container,
            "sign_in.html",
            next=_safe_next(request.query_params.get("next")),
            email="",
            error=None,
        )

    @post(SIGN_IN_PATH)
    async def sign_in(
        self, request: Request[Any, Any, Any], container: PortalContainer
    ) -> Response[Any]:
        form = await read_form(request)
        email = text_field(form, "email")
        password = form.get("password")
        code = text_field(form, "code").replace(" ", "")
        target = _safe_next(text_field(form, "next"))
        previous = request.cookies.get(session_cookie_name(container.settings))
        client = request.client.host if request.client else "unknown"
        try:
            signed_in = await in_thread(
                lambda: container.sign_in.sign_in(
                    email,
                    password if isinstance(password, str) else "",
                    client_address=client,
                    totp_code=code or None,
                    previous_token=previous,
                )
            )
        except SignInThrottled as throttled:
            wait = max(1, int((throttled.retry_at - container.clock.now()).total_seconds()))
            return page(
                request,
                container,
                "throttled.html",
                status_code=HTTPStatus.TOO_MANY_REQUESTS,
                headers={"Retry-After": str(wait)},
                minutes=-(-wait // 60),
            )
        except AuthenticationFailed:
            return page(
                request,
                container,
                "sign_in.html",
                status_code=HTTPStatus.BAD_REQUEST,
                next=target,
                email=email,
                error=SIGN_IN_FAILED,
            )
        return Redirect(
            target or DEFAULT_LANDING,
            status_code=303,
            cookies=[session_cookie(container.settings, signed_in.token)],
        )

    @get("/invitation/{token:str}", sync_to_thread=False)
    def invitation_form(
        self, request: Request[Any, Any, Any], container: PortalContainer, token: FromPath[str]
    ) -> Template:
        return _password_form(request, container, kind="invitation", token=token)

    @post("/invitation/{token:str}")
    async def accept_invitation(
        self, request: Request[Any, Any, Any], container: PortalContainer, token: FromPath[str]
    ) -> Response[Any]:
        return await _set_password(
            request,
            container,
            kind="invitation",
            token=token,
            use=container.sign_in.accept_invitation,
        )

    @get("/password-reset", sync_to_thread=False)
    def reset_request_form(
        self, request: Request[Any, Any, Any], container: PortalContainer
    ) -> Template:
        return page(request, container, "password_reset_request.html", sent=False)

    @post("/password-reset")
    async def request_reset(
        self, request: Request[Any, Any, Any], container: PortalContainer
    ) -> Template:
        email = text_field(await read_form(request), "email")
        if email:
            await in_thread(lambda: container.sign_in.request_password_reset(email))
        # The same answer whether or not the address has an account.
        return page(request, container, "password_reset_request.html", sent=bool(email))

    @get("/password-reset/{token:str}", sync_to_thread=False)
    def reset_form(
        self, request: Request[Any, Any, Any], container: PortalContainer, token: FromPath[str]
    ) -> Template:
        return _password_form(request, container, kind="reset", token=token)

    @post("/password-reset/{token:str}")
    async def reset(
        self, request: Request[Any, Any, Any], container: PortalContainer, token: FromPath[str]
    ) -> Response[Any]:
        return await _set_password(
            request,
            container,
            kind="reset",
            token=token,
            use=container.sign_in.complete_password_reset,
        )


class AccountPages(Controller):
    """Signing out and the second factor, for whoever is signed in."""

    include_in_schema = False
    guards = [requires_signed_in]  # noqa: RUF012
    opt = PAGE_OPT

    @post("/sign-out")
    async def sign_out(
        self, request: Request[Any, Any, Any], container: PortalContainer
    ) -> Redirect:
        token = request.cookies.get(session_cookie_name(container.settings))
        if token:
            await in_thread(lambda: container.sign_in.sign_out(token))
        return Redirect(
            f"{SIGN_IN_PATH}?done=signed-out",
            status_code=303,
            cookies=[expired_session_cookie(container.settings)],
        )

    @get("/account/second-factor", sync_to_thread=False)
    def second_factor(
        self, request: Request[Any, Any, Any], container: PortalContainer
    ) -> Template:
        return page(request, container, "second_factor.html", enrolment=None, error=None)

    @post("/account/second-factor/start")
    async def start_second_factor(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Template:
        enrolment = await in_thread(lambda: container.sign_in.begin_totp_enrolment(principal))
        return page(
            request,
            container,
            "second_factor.html",
            enrolment=enrolment,
            error=None,
            confirming=True,
        )

    @post("/account/second-factor/confirm")
    async def confirm_second_factor(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Response[Any]:
        code = text_field(await read_form(request), "code").replace(" ", "")
        try:
            await in_thread(lambda: container.sign_in.confirm_totp(principal, code))
        except (InvalidInput, InvalidTransition) as refused:
            return page(
                request,
                container,
                "second_factor.html",
                status_code=HTTPStatus.UNPROCESSABLE_ENTITY,
                enrolment=None,
                confirming=isinstance(refused, InvalidInput),
                error=refused.message,
            )
        return see_other("/dashboard", done="second-factor")


def _safe_next(target: str | None) -> str:
    return target if target and is_local_path(target) else ""


def _password_form(
    request: Request[Any, Any, Any],
    container: PortalContainer,
    *,
    kind: str,
    token: str,
    error: str | None = None,
    status_code: int = HTTPStatus.OK,
) -> Template:
    return page(
        request,
        container,
        "set_password.html",
        status_code=status_code,
        kind=kind,
        action=request.url.path,
        error=error,
        minimum=container.sign_in.policy.passwords.min_length,
    )


async def _set_password(
    request: Request[Any, Any, Any],
    container: PortalContainer,
    *,
    kind: str,
    token: str,
    use: Any,
) -> Response[Any]:
    form = await read_form(request)
    password = form.get("password")
    confirmation = form.get("confirmation")
    if not isinstance(password, str) or not password:
        return _password_form(
            request,
            container,
            kind=kind,
            token=token,
            error="Enter a password.",
            status_code=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    if password != confirmation:
        return _password_form(
            request,
            container,
            kind=kind,
            token=token,
            error="The two passwords are not the same.",
            status_code=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    try:
        await in_thread(lambda: use(token, password))
    except LinkNotValid as invalid:
        return page(
            request,
            container,
            "error.html",
            status_code=HTTPStatus.BAD_REQUEST,
            status=HTTPStatus.BAD_REQUEST,
            heading="This link does not work any more",
            detail=invalid.message,
        )
    except InvalidInput as weak:
        return _password_form(
            request,
            container,
            kind=kind,
            token=token,
            error=weak.message,
            status_code=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    return see_other(SIGN_IN_PATH, done="password")
