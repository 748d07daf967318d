"""Local sign-in use cases: sign in and out, sessions, invitations, password resets, TOTP.

Every way a sign-in can fail (unknown address, wrong password, no password set yet, disabled
account, missing or wrong code) ends in the same `AuthenticationFailed` message, after the same
slow password check: for an unknown address a dummy hash is checked, so that neither the answer
nor its timing says which addresses have accounts. Throttling (`ThrottlePolicy`) is decided
before the password is looked at.

The password check runs between two short transactions, never inside one: the attempt is
recorded as failed first (a crash during the check still counts against the budget), and only
a sign-in that passed is marked as such and given its session.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from attrs import evolve, field, frozen

from portal_core import access
from portal_core.dispatch import EventDispatcher, record_change
from portal_core.errors import InvalidInput, InvalidTransition, NotFound
from portal_core.events import DomainEvent
from portal_core.identity.events import (
    InvitationAccepted,
    InvitationSent,
    PasswordChanged,
    PasswordResetRequested,
    SecondFactorDisabled,
    SecondFactorEnabled,
    SessionsRevoked,
    UserSignedIn,
)
from portal_core.identity.model import (
    AttemptOutcome,
    Credential,
    OneTimeToken,
    Session,
    SignInAttempt,
    TokenPurpose,
    account_key,
    token_digest,
)
from portal_core.identity.passwords import PasswordPolicy
from portal_core.identity.ports import PasswordHasher, TokenGenerator, TotpVerifier
from portal_core.identity.recent import RecentSessions
from portal_core.identity.throttle import ThrottlePolicy
from portal_core.organisations.events import UserRemoved, UserRolesChanged
from portal_core.organisations.model import Principal, User
from portal_core.ports import (
    AuthenticationFailed,
    Clock,
    IdGenerator,
    UnitOfWork,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

SIGN_IN_FAILED = "The e-mail address, password or authenticator code is not right."
INVITATION_PATH = "/invitation/"
PASSWORD_RESET_PATH = "/password-reset/"  # noqa: S105 (a URL path, not a secret)


class SignInThrottled(AuthenticationFailed):
    """Too many failed sign-ins for this account or from this address: nothing was checked."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__("Too many failed sign-ins; try again later.")
        self.retry_at = retry_at


class LinkNotValid(InvalidInput):
    """An invitation or reset link that is unknown, used, expired, or for a disabled user."""

    code = "link_not_valid"

    def __init__(self) -> None:
        super().__init__("This link is not valid any more; ask for a new one.")


@frozen(kw_only=True)
class SignInPolicy:
    """Lifetimes and limits; the defaults follow OWASP ASVS level 2."""

    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_lifetime: timedelta = timedelta(hours=12)
    invitation_lifetime: timedelta = timedelta(days=7)
    password_reset_lifetime: timedelta = timedelta(hours=1)
    password_reset_cooldown: timedelta = timedelta(minutes=2)
    """A reset asked for again this soon sends nothing: nobody's mailbox is flooded."""
    throttle: ThrottlePolicy = field(factory=ThrottlePolicy)
    passwords: PasswordPolicy = field(factory=PasswordPolicy)
    totp_issuer: str = "Client portal"
    session_recheck_interval: timedelta = timedelta(seconds=2)
    """How long a resolved session is reused without reading it again (`RecentSessions`):
    a session ended by another process of the portal stops working within this time; one
    ended in this process stops at once. Zero reads the session on every request."""


@frozen(kw_only=True)
class SignedIn:
    """A new session: `token` goes into the session cookie and is never stored."""

    token: str = field(repr=False)
    session: Session
    principal: Principal


@frozen(kw_only=True)
class TotpEnrolment:
    """What the enrolment page shows (as a QR code) until a code from it is confirmed."""

    secret: str = field(repr=False)
    provisioning_uri: str = field(repr=False)


class SignInService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        tokens: TokenGenerator,
        hasher: PasswordHasher,
        totp: TotpVerifier,
        dispatcher: EventDispatcher,
        base_url: str,
        policy: SignInPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._tokens = tokens
        self._hasher = hasher
        self._totp = totp
        self._dispatcher = dispatcher
        self._base_url = base_url.rstrip("/")
        self._policy = policy or SignInPolicy()
        self._dummy_hash: str | None = None
        self._recent = RecentSessions(self._policy.session_recheck_interval)
        # Roles changed or a contact removed by the organisation's admin: forget at once.
        dispatcher.subscribe(UserRolesChanged, self._forget_user_of)
        dispatcher.subscribe(UserRemoved, self._forget_user_of)

    @property
    def policy(self) -> SignInPolicy:
        return self._policy

    # --- signing in and out -------------------------------------------------------------------

    def sign_in(
        self,
        email: str,
        password: str,
        *,
        client_address: str,
        totp_code: str | None = None,
        previous_token: str | None = None,
    ) -> SignedIn:
        """A new session for the user, if the password (and, when enrolled, the TOTP code) is
        right. `previous_token` is the session cookie the browser sent, if any: it is ended, so
        a session id fixed before sign-in is dead after it."""
        now = self._clock.now()
        key = account_key(email)
        attempt_id = self._ids.new_id()
        with self._uow() as uow:
            attempts = uow.sign_in_attempts
            attempts.hold(key)
            since = self._policy.throttle.counts_since(now)
            refused_until = self._policy.throttle.refused_until(
                now,
                account_failures=attempts.failures_for_account(key, since=since),
                address_failures=attempts.failures_from_address(client_address, since=since),
            )
            if refused_until is not None:
                log.warning("sign-in throttled until %s", refused_until.isoformat())
                raise SignInThrottled(refused_until)
            attempts.record(
                SignInAttempt(
                    id=attempt_id,
                    account_key=key,
                    client_address=client_address,
                    at=now,
                    outcome=AttemptOutcome.FAILED,
                )
            )
            attempts.forget_before(now - self._policy.throttle.window)
            user = uow.users.by_email(email.strip())
            credential = uow.credentials.get(user.id) if user is not None else None
            uow.commit()

        checked_hash = credential.password_hash if credential is not None else None
        # No stored password is that long, and hashing megabytes would cost more than it says.
        matches = len(password) <= self._policy.passwords.max_length and self._hasher.verify(
            password, checked_hash or self._dummy()
        )
        if not matches or checked_hash is None or user is None or not user.active:
            raise AuthenticationFailed(SIGN_IN_FAILED)

        with self._uow() as uow:
            current_user = uow.users.get(user.id)
            credential = uow.credentials.get(user.id)
            if (
                current_user is None
                or not current_user.active
                or credential is None
                or credential.password_hash != checked_hash
            ):
                raise AuthenticationFailed(SIGN_IN_FAILED)
            updated = credential
            if credential.totp_secret is not None:
                step = self._fresh_step(credential, credential.totp_secret, totp_code, now)
                if step is None:
                    raise AuthenticationFailed(SIGN_IN_FAILED)
                updated = evolve(updated, totp_last_step=step)
            if self._hasher.needs_rehash(checked_hash):
                updated = evolve(updated, password_hash=self._hasher.hash(password))
            if updated != credential:
                uow.credentials.put(updated)
            uow.sign_in_attempts.mark_succeeded(attempt_id)
            if previous_token:
                uow.sessions.remove(token_digest(previous_token))
            for stale in uow.sessions.for_user(current_user.id):
                if not stale.is_live(now):
                    uow.sessions.remove(stale.token_digest)
            token = self._tokens.new_token()
            session = Session(
                token_digest=token_digest(token),
                user_id=current_user.id,
                created_at=now,
                last_seen_at=now,
                idle_timeout=self._policy.idle_timeout,
                absolute_lifetime=self._policy.absolute_lifetime,
                second_factor_done=credential.totp_secret is not None,
            )
            uow.sessions.add(session)
            signed_in = UserSignedIn(
                event_id=self._ids.new_id(),
                occurred_at=now,
                organisation_id=current_user.organisation_id,
                actor_id=current_user.id,
                user_id=current_user.id,
                client_address=client_address,
                second_factor=session.second_factor_done,
            )
            self._record(uow, signed_in, current_user, {"client_address": client_address})
            uow.commit()
        if previous_token:  # the session the browser came with has ended
            self._recent.forget(token_digest(previous_token))
        return SignedIn(token=token, session=session, principal=current_user.as_principal())

    def sign_out(self, token: str) -> None:
        """End the session; signing out of an ended session is not an error."""
        digest = token_digest(token)
        with self._uow() as uow:
            if uow.sessions.remove(digest):
                uow.commit()
        self._recent.forget(digest)

    def recently_resolved(self, token: str) -> Principal | None:
        """The principal the token resolved to moments ago, without any I/O; None when it must
        be resolved (`resolve`). Lets a web server skip a worker thread and a database read
        for the burst of requests one page makes."""
        return self._recent.get(token_digest(token), self._clock.now())

    def resolve(self, token: str) -> Principal:
        """Who the session token belongs to, counting this request as activity.
        AuthenticationFailed for an unknown, ended or expired session, or a disabled user."""
        now = self._clock.now()
        digest = token_digest(token)
        # Nearly every request only reads: a snapshot, without the write lock. The rare write
        # (ending a dead session, counting activity once per TOUCH_INTERVAL) takes its own.
        with self._uow(read_only=True) as uow:
            session = uow.sessions.get(digest)
            if session is None:
                raise AuthenticationFailed(SIGN_IN_FAILED)
            user = uow.users.get(session.user_id)
        if user is None or not user.active:
            with self._uow() as uow:
                uow.sessions.remove_for_user(session.user_id)
                uow.commit()
            raise AuthenticationFailed(SIGN_IN_FAILED)
        if not session.is_live(now):
            with self._uow() as uow:
                uow.sessions.remove(digest)
                uow.commit()
            raise AuthenticationFailed(SIGN_IN_FAILED)
        if session.needs_touch(now):
            with self._uow() as uow:
                current = uow.sessions.get(digest)
                # Ended meanwhile (signed out, revoked): nothing to count, and no access.
                if current is None:
                    raise AuthenticationFailed(SIGN_IN_FAILED)
                if current.needs_touch(now):
                    session = current.seen(now)
                    uow.sessions.update(session)
                    uow.commit()
        principal = user.as_principal()
        self._recent.remember(digest, principal, now=now, session_expires_at=session.expires_at)
        return principal

    def sessions_of(self, user_id: str) -> Sequence[Session]:
        """The user's live sessions, oldest first (for a "where am I signed in" page)."""
        now = self._clock.now()
        with self._uow(read_only=True) as uow:
            return [s for s in uow.sessions.for_user(user_id) if s.is_live(now)]

    def revoke_sessions(self, user_id: str, *, actor_id: str, reason: str) -> int:
        """End every session of the user at once; how many there were."""
        with self._uow() as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound("No such user.")
            count = self._revoke(uow, user, actor_id=actor_id, reason=reason)
            uow.commit()
            self._recent.forget_user(user.id)
        return count

    def lock_out(self, user_id: str, *, actor_id: str) -> int:
        """Stop the user from signing in: disabled, unused links void, every session ended at
        once, in one transaction. How many sessions there were."""
        with self._uow() as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound("No such user.")
            if user.active:
                user = evolve(user, active=False)
                uow.users.update(user)
            for purpose in TokenPurpose:
                uow.one_time_tokens.discard_unused(user.id, purpose)
            count = self._revoke(uow, user, actor_id=actor_id, reason="disabled")
            uow.commit()
            self._recent.forget_user(user.id)
        return count

    # --- invitations and password resets ------------------------------------------------------

    def send_invitation(self, user_id: str, *, actor_id: str) -> str:
        """Issue a new invitation link for the user (earlier unused ones stop working) and queue
        it for e-mail. Returns the link, for a CLI in the embedded mode to show."""
        with self._uow() as uow:
            user = uow.users.get(user_id)
            if user is None or not user.active:
                raise NotFound("No such user.")
            credential = uow.credentials.get(user_id)
            if credential is not None and credential.has_password:
                raise InvalidTransition(
                    "This person has accepted an invitation already; they can reset their password."
                )
            link, sent = self._invite(uow, user, actor_id=actor_id)
            uow.commit()
        self._dispatcher.dispatch([sent])
        return link

    def admit(self, user: User, *, actor_id: str) -> str | None:
        """Let `user` sign in as given (roles, organisation), re-enabling them if disabled:
        the local IdentityProvider's `invite`. Stores the user if the portal lacks it. Someone
        without a password gets a new invitation link (returned); someone with one keeps it."""
        with self._uow() as uow:
            stored = uow.users.get(user.id)
            if stored is None:
                admitted = evolve(user, active=True)
                uow.users.add(admitted)
            else:
                admitted = evolve(user, active=True, created_at=stored.created_at)
                if admitted != stored:
                    uow.users.update(admitted)
            credential = uow.credentials.get(user.id)
            if credential is not None and credential.has_password:
                uow.commit()
                return None
            link, sent = self._invite(uow, admitted, actor_id=actor_id)
            uow.commit()
        self._dispatcher.dispatch([sent])
        return link

    def accept_invitation(self, token: str, password: str) -> User:
        """Set the invited user's first password; the link works once, before it expires."""
        user = self._user_for_link(token, TokenPurpose.INVITATION)
        self._policy.passwords.check(password, email=user.email)
        password_hash = self._hasher.hash(password)
        now = self._clock.now()
        with self._uow() as uow:
            user = self._use_link(uow, token, TokenPurpose.INVITATION, now)
            credential = uow.credentials.get(user.id) or Credential(user_id=user.id)
            uow.credentials.put(
                evolve(credential, password_hash=password_hash, password_changed_at=now)
            )
            accepted = InvitationAccepted(
                event_id=self._ids.new_id(),
                occurred_at=now,
                organisation_id=user.organisation_id,
                actor_id=user.id,
                user_id=user.id,
            )
            self._record(uow, accepted, user, {})
            uow.commit()
        self._dispatcher.dispatch([accepted])
        return user

    def request_password_reset(self, email: str) -> None:
        """Queue a reset link for the address, if an active user has it and was not sent one in
        the last `password_reset_cooldown`. The answer is the same either way, so that the form
        does not tell which addresses have accounts."""
        now = self._clock.now()
        events: list[DomainEvent] = []
        with self._uow() as uow:
            user = uow.users.by_email(email.strip())
            if user is None or not user.active:
                return
            pending = uow.one_time_tokens.unused_for(user.id, TokenPurpose.PASSWORD_RESET)
            if pending and now - pending[0].created_at < self._policy.password_reset_cooldown:
                return
            token, expires_at = self._issue(uow, user, TokenPurpose.PASSWORD_RESET, now)
            requested = PasswordResetRequested(
                event_id=self._ids.new_id(),
                occurred_at=now,
                organisation_id=user.organisation_id,
                actor_id=user.id,
                user_id=user.id,
                email=user.email,
                name=user.name,
                link=f"{self._base_url}{PASSWORD_RESET_PATH}{token}",
                expires_at=expires_at,
            )
            self._record(uow, requested, user, {"expires_at": expires_at.isoformat()}, outbox=True)
            events.append(requested)
            uow.commit()
        self._dispatcher.dispatch(events)

    def complete_password_reset(self, token: str, new_password: str) -> User:
        """Set a new password through a reset link and end every session of the user. A second
        factor stays enrolled: a reset link alone never signs anyone in."""
        user = self._user_for_link(token, TokenPurpose.PASSWORD_RESET)
        self._policy.passwords.check(new_password, email=user.email)
        password_hash = self._hasher.hash(new_password)
        now = self._clock.now()
        with self._uow() as uow:
            user = self._use_link(uow, token, TokenPurpose.PASSWORD_RESET, now)
            credential = uow.credentials.get(user.id) or Credential(user_id=user.id)
            uow.credentials.put(
                evolve(credential, password_hash=password_hash, password_changed_at=now)
            )
            # An unused invitation must not outlive the password it was meant to set.
            uow.one_time_tokens.discard_unused(user.id, TokenPurpose.INVITATION)
            changed = PasswordChanged(
                event_id=self._ids.new_id(),
                occurred_at=now,
                organisation_id=user.organisation_id,
                actor_id=user.id,
                user_id=user.id,
                email=user.email,
            )
            self._record(uow, changed, user, {"via": "password_reset"}, outbox=True)
            self._revoke(uow, user, actor_id=user.id, reason="password_reset")
            uow.commit()
            self._recent.forget_user(user.id)
        self._dispatcher.dispatch([changed])
        return user

    # --- the second factor (TOTP) -------------------------------------------------------------

    def begin_totp_enrolment(self, principal: Principal) -> TotpEnrolment:
        """A new secret for an authenticator app; it counts only once confirmed with a code."""
        secret = self._totp.new_secret()
        with self._uow() as uow:
            user, credential = self._signed_up(uow, principal.user_id)
            uow.credentials.put(evolve(credential, totp_pending_secret=secret))
            uow.commit()
        return TotpEnrolment(
            secret=secret,
            provisioning_uri=self._totp.provisioning_uri(
                secret, account=user.email, issuer=self._policy.totp_issuer
            ),
        )

    def confirm_totp(self, principal: Principal, code: str) -> None:
        """Turn the second factor on with a code from the app; sign-in needs a code from now."""
        now = self._clock.now()
        with self._uow() as uow:
            user, credential = self._signed_up(uow, principal.user_id)
            if credential.totp_pending_secret is None:
                raise InvalidTransition("Start setting up an authenticator app first.")
            step = self._fresh_step(credential, credential.totp_pending_secret, code, now)
            if step is None:
                raise InvalidInput("That code is not right; enter the one the app shows now.")
            uow.credentials.put(
                evolve(
                    credential,
                    totp_secret=credential.totp_pending_secret,
                    totp_pending_secret=None,
                    totp_last_step=step,
                )
            )
            enabled = SecondFactorEnabled(
                event_id=self._ids.new_id(),
                occurred_at=now,
                organisation_id=user.organisation_id,
                actor_id=user.id,
                user_id=user.id,
                email=user.email,
            )
            self._record(uow, enabled, user, {}, outbox=True)
            uow.commit()
        self._dispatcher.dispatch([enabled])

    def disable_totp(self, principal: Principal, code: str) -> None:
        """Turn the second factor off; it takes a current code, so a stolen session cannot."""
        now = self._clock.now()
        with self._uow() as uow:
            user, credential = self._signed_up(uow, principal.user_id)
            if credential.totp_secret is None:
                raise InvalidTransition("No authenticator app is set up.")
            if self._fresh_step(credential, credential.totp_secret, code, now) is None:
                raise InvalidInput("That code is not right; enter the one the app shows now.")
            disabled = self._drop_second_factor(uow, user, credential, actor_id=user.id, now=now)
            uow.commit()
        self._dispatcher.dispatch([disabled])

    def remove_second_factor(self, admin: Principal, user_id: str) -> None:
        """An administrator turns off a lost authenticator; the user's sessions end as well."""
        access.require(access.can_onboard(admin), "Only an administrator can do this.")
        now = self._clock.now()
        with self._uow() as uow:
            user, credential = self._signed_up(uow, user_id)
            if credential.totp_secret is None:
                raise InvalidTransition("No authenticator app is set up.")
            disabled = self._drop_second_factor(
                uow, user, credential, actor_id=admin.user_id, now=now
            )
            self._revoke(uow, user, actor_id=admin.user_id, reason="second_factor_removed")
            uow.commit()
            self._recent.forget_user(user.id)
        self._dispatcher.dispatch([disabled])

    # --- helpers ------------------------------------------------------------------------------

    def _dummy(self) -> str:
        """A real hash of a random password, checked when there is none, for equal timing."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(self._tokens.new_token())
        return self._dummy_hash

    def _fresh_step(
        self, credential: Credential, secret: str, code: str | None, now: datetime
    ) -> int | None:
        """The time step of `code` if it is right and newer than any code accepted before."""
        if not code:
            return None
        step = self._totp.matching_step(secret, code.strip().replace(" ", ""), at=now)
        if step is None:
            return None
        if credential.totp_last_step is not None and step <= credential.totp_last_step:
            return None
        return step

    def _invite(self, uow: UnitOfWork, user: User, *, actor_id: str) -> tuple[str, InvitationSent]:
        now = self._clock.now()
        token, expires_at = self._issue(uow, user, TokenPurpose.INVITATION, now)
        link = f"{self._base_url}{INVITATION_PATH}{token}"
        sent = InvitationSent(
            event_id=self._ids.new_id(),
            occurred_at=now,
            organisation_id=user.organisation_id,
            actor_id=actor_id,
            user_id=user.id,
            email=user.email,
            name=user.name,
            link=link,
            expires_at=expires_at,
        )
        self._record(uow, sent, user, {"expires_at": expires_at.isoformat()}, outbox=True)
        return link, sent

    def _issue(
        self, uow: UnitOfWork, user: User, purpose: TokenPurpose, now: datetime
    ) -> tuple[str, datetime]:
        lifetime = (
            self._policy.invitation_lifetime
            if purpose is TokenPurpose.INVITATION
            else self._policy.password_reset_lifetime
        )
        uow.one_time_tokens.discard_unused(user.id, purpose)
        token = self._tokens.new_token()
        expires_at = now + lifetime
        uow.one_time_tokens.add(
            OneTimeToken(
                token_digest=token_digest(token),
                purpose=purpose,
                user_id=user.id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        return token, expires_at

    def _user_for_link(self, token: str, purpose: TokenPurpose) -> User:
        """The user a usable link is for; LinkNotValid otherwise. Changes nothing."""
        now = self._clock.now()
        with self._uow(read_only=True) as uow:
            stored = uow.one_time_tokens.get(token_digest(token))
            if stored is None or not stored.is_usable(purpose, now):
                raise LinkNotValid
            user = uow.users.get(stored.user_id)
            if user is None or not user.active:
                raise LinkNotValid
            return user

    def _use_link(self, uow: UnitOfWork, token: str, purpose: TokenPurpose, now: datetime) -> User:
        """Spend the link inside `uow`; of two concurrent uses only one gets through."""
        digest = token_digest(token)
        stored = uow.one_time_tokens.get(digest)
        if stored is None or not stored.is_usable(purpose, now):
            raise LinkNotValid
        user = uow.users.get(stored.user_id)
        if user is None or not user.active or not uow.one_time_tokens.use(digest, at=now):
            raise LinkNotValid
        return user

    def _signed_up(self, uow: UnitOfWork, user_id: str) -> tuple[User, Credential]:
        user = uow.users.get(user_id)
        credential = uow.credentials.get(user_id)
        if user is None or not user.active or credential is None or not credential.has_password:
            raise NotFound("No such user.")
        return user, credential

    def _drop_second_factor(
        self, uow: UnitOfWork, user: User, credential: Credential, *, actor_id: str, now: datetime
    ) -> SecondFactorDisabled:
        uow.credentials.put(
            evolve(credential, totp_secret=None, totp_pending_secret=None, totp_last_step=None)
        )
        disabled = SecondFactorDisabled(
            event_id=self._ids.new_id(),
            occurred_at=now,
            organisation_id=user.organisation_id,
            actor_id=actor_id,
            user_id=user.id,
            email=user.email,
        )
        self._record(uow, disabled, user, {}, outbox=True)
        return disabled

    def _forget_user_of(self, event: UserRolesChanged | UserRemoved) -> None:
        self._recent.forget_user(event.user_id)

    def _revoke(self, uow: UnitOfWork, user: User, *, actor_id: str, reason: str) -> int:
        count = uow.sessions.remove_for_user(user.id)
        revoked = SessionsRevoked(
            event_id=self._ids.new_id(),
            occurred_at=self._clock.now(),
            organisation_id=user.organisation_id,
            actor_id=actor_id,
            user_id=user.id,
            count=count,
            reason=reason,
        )
        self._record(uow, revoked, user, {"count": str(count), "reason": reason})
        return count

    def _record(
        self,
        uow: UnitOfWork,
        event: DomainEvent,
        user: User,
        details: dict[str, str],
        *,
        outbox: bool = False,
    ) -> None:
        record_change(
            uow,
            event,
            ids=self._ids,
            subject_type="user",
            subject_id=user.id,
            details=details,
            outbox=outbox,
        )
