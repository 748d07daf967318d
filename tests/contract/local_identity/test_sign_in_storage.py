"""The sign-in repositories' contract (portal_core.identity.ports), on every storage."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from portal_core.errors import Conflict, NotFound
from portal_core.identity.model import (
    AttemptOutcome,
    Credential,
    OneTimeToken,
    Session,
    SignInAttempt,
    TokenPurpose,
)
from portal_core.identity.service import SignInPolicy, SignInService, SignInThrottled
from portal_core.identity.throttle import ThrottlePolicy
from portal_core.organisations.model import Role
from portal_core.ports import AuthenticationFailed
from tests.contract.local_identity.conftest import START, LocalSignIn, make_user

ANN = make_user("ann", "acme", Role.CLIENT_ADMIN)
BOB = make_user("bob", "acme", Role.CLIENT_VIEWER)


@pytest.fixture
def people(local: LocalSignIn) -> LocalSignIn:
    with local.uow() as uow:
        uow.users.add(ANN)
        uow.users.add(BOB)
        uow.commit()
    return local


def session(digest: str, user_id: str = "ann", minutes: int = 0) -> Session:
    at = START + timedelta(minutes=minutes)
    return Session(
        token_digest=digest,
        user_id=user_id,
        created_at=at,
        last_seen_at=at,
        idle_timeout=timedelta(minutes=30, microseconds=5),
        absolute_lifetime=timedelta(hours=12),
        second_factor_done=True,
    )


def test_a_credential_is_stored_whole_and_replaced_whole(people: LocalSignIn) -> None:
    first = Credential(
        user_id="ann",
        password_hash="$argon2id$first",
        password_changed_at=START,
        totp_secret="SECRET",
        totp_last_step=59_000_000_000,
    )
    second = Credential(user_id="ann", totp_pending_secret="PENDING")
    with people.uow() as uow:
        assert uow.credentials.get("ann") is None
        uow.credentials.put(first)
        uow.commit()
    with people.uow() as uow:
        assert uow.credentials.get("ann") == first
        uow.credentials.put(second)
        uow.commit()
    with people.uow() as uow:
        assert uow.credentials.get("ann") == second


def test_sign_in_rows_need_their_user(people: LocalSignIn) -> None:
    with people.uow() as uow:
        with pytest.raises(NotFound):
            uow.credentials.put(Credential(user_id="nobody", password_hash="x"))
        with pytest.raises(NotFound):
            uow.sessions.add(session("d1", "nobody"))
        with pytest.raises(NotFound):
            uow.one_time_tokens.add(
                OneTimeToken(
                    token_digest="t1",
                    purpose=TokenPurpose.INVITATION,
                    user_id="nobody",
                    created_at=START,
                    expires_at=START + timedelta(days=1),
                )
            )
        uow.sessions.add(session("d1"))  # the unit of work is still usable
        uow.commit()


def test_sessions_come_back_exactly_and_end_one_or_all(people: LocalSignIn) -> None:
    with people.uow() as uow:
        uow.sessions.add(session("d2", minutes=1))
        uow.sessions.add(session("d1"))
        uow.sessions.add(session("d3", "bob"))
        with pytest.raises(Conflict):
            uow.sessions.add(session("d1"))
        uow.commit()
    with people.uow() as uow:
        assert uow.sessions.get("d1") == session("d1")
        assert [s.token_digest for s in uow.sessions.for_user("ann")] == ["d1", "d2"]
        seen = session("d1").seen(START + timedelta(minutes=5))
        uow.sessions.update(seen)
        uow.sessions.update(session("absent"))
        assert uow.sessions.remove("d2") is True
        assert uow.sessions.remove("d2") is False
        uow.commit()
    with people.uow() as uow:
        assert uow.sessions.get("d1") == seen
        assert uow.sessions.get("absent") is None
        assert uow.sessions.remove_for_user("ann") == 1
        assert uow.sessions.remove_for_user("ann") == 0
        assert uow.sessions.get("d3") is not None


def test_a_link_is_used_once_and_newer_links_void_unused_ones(people: LocalSignIn) -> None:
    def link(digest: str, purpose: TokenPurpose, minutes: int = 0) -> OneTimeToken:
        return OneTimeToken(
            token_digest=digest,
            purpose=purpose,
            user_id="ann",
            created_at=START + timedelta(minutes=minutes),
            expires_at=START + timedelta(hours=1),
        )

    with people.uow() as uow:
        for digest, purpose in (
            ("i1", TokenPurpose.INVITATION),
            ("i2", TokenPurpose.INVITATION),
            ("r1", TokenPurpose.PASSWORD_RESET),
        ):
            uow.one_time_tokens.add(link(digest, purpose))
        uow.one_time_tokens.add(link("i3", TokenPurpose.INVITATION, minutes=1))
        with pytest.raises(Conflict):
            uow.one_time_tokens.add(link("i1", TokenPurpose.INVITATION))
        uow.commit()
    used_at = START + timedelta(minutes=3)
    with people.uow() as uow:
        assert uow.one_time_tokens.use("i1", at=used_at) is True
        assert uow.one_time_tokens.use("i1", at=used_at) is False
        assert uow.one_time_tokens.use("unknown", at=used_at) is False
        assert uow.one_time_tokens.unused_for("ann", TokenPurpose.INVITATION) == [
            link("i3", TokenPurpose.INVITATION, minutes=1),
            link("i2", TokenPurpose.INVITATION),
        ]
        assert uow.one_time_tokens.unused_for("bob", TokenPurpose.INVITATION) == []
        assert uow.one_time_tokens.discard_unused("ann", TokenPurpose.INVITATION) == 2
        uow.commit()
    with people.uow() as uow:
        stored = uow.one_time_tokens.get("i1")
        assert stored is not None
        assert stored.used_at == used_at
        assert uow.one_time_tokens.get("i2") is None
        assert uow.one_time_tokens.get("i3") is None
        assert uow.one_time_tokens.get("r1") == link("r1", TokenPurpose.PASSWORD_RESET)


def test_failed_attempts_are_counted_after_the_moment_given_oldest_first(
    people: LocalSignIn,
) -> None:
    def attempt(n: int, account: str, address: str) -> SignInAttempt:
        return SignInAttempt(
            id=f"a{n}",
            account_key=account,
            client_address=address,
            at=START + timedelta(minutes=n),
            outcome=AttemptOutcome.FAILED,
        )

    with people.uow() as uow:
        log = uow.sign_in_attempts
        for n, account, address in (
            (3, "ann", "1.1.1.1"),
            (1, "ann", "2.2.2.2"),
            (2, "bob", "1.1.1.1"),
            (4, "ann", "1.1.1.1"),
        ):
            log.record(attempt(n, account, address))
        log.mark_succeeded("a4")
        with pytest.raises(Conflict):
            log.record(attempt(1, "ann", "2.2.2.2"))
        uow.commit()
    with people.uow() as uow:
        log = uow.sign_in_attempts
        log.hold("ann")
        at = [START + timedelta(minutes=n) for n in range(5)]
        assert log.failures_for_account("ann", since=at[0]) == [at[1], at[3]]
        assert log.failures_for_account("ann", since=at[1]) == [at[3]]
        assert log.failures_from_address("1.1.1.1", since=at[0]) == [at[2], at[3]]
        assert log.forget_before(at[3]) == 2
        uow.commit()
    with people.uow() as uow:
        assert uow.sign_in_attempts.failures_for_account("ann", since=START) == [at[3]]


def test_nothing_of_a_unit_of_work_that_did_not_commit_is_kept(people: LocalSignIn) -> None:
    with people.uow() as uow:
        uow.sessions.add(session("d1"))
        uow.credentials.put(Credential(user_id="ann", password_hash="h"))
    with people.uow() as uow:
        assert uow.sessions.get("d1") is None
        assert uow.credentials.get("ann") is None


def test_concurrent_wrong_passwords_never_get_more_checks_than_the_limit(
    people: LocalSignIn,
) -> None:
    people.join(ANN)
    limit = 6
    service = SignInService(
        uow=people.uow,
        clock=people.clock,
        ids=people.service._ids,
        tokens=people.service._tokens,
        hasher=people.service._hasher,
        totp=people.totp,
        dispatcher=people.service._dispatcher,
        base_url="https://portal.example.com",
        policy=SignInPolicy(throttle=ThrottlePolicy(failures_per_account=limit)),
    )
    outcomes: list[str] = []
    lock = threading.Lock()

    def guess(n: int) -> None:
        for attempt in range(4):
            try:
                service.sign_in(
                    "ann@example.com", "wrong password!", client_address=f"10.{n}.{attempt}.1"
                )
            except SignInThrottled:
                result = "throttled"
            except AuthenticationFailed:
                result = "checked"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("checked") == limit
    assert outcomes.count("throttled") == 24 - limit
