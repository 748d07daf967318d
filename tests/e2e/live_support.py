"""A firm on in-memory fakes served by uvicorn on a loopback port, and a server-sent-event
reader, for the live-update tests (through HTTP and in a browser)."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from attrs import frozen

from adapters.memory import FixedClock, InMemoryFileStore, InMemoryStorage, SequentialIds
from adapters.memory.identity import InMemoryPasswordHasher, InMemoryTotpVerifier
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.web import create_app
from entrypoints.web.auth import session_cookie_name
from portal_core.cases.service import SubmitCase
from portal_core.organisations.model import Principal, Role, User
from tests.e2e.conftest import PEOPLE_PASSWORD, onboard_people, settings_for

PASSWORD = PEOPLE_PASSWORD
PEOPLE = {
    "alice": ("acme", Role.CLIENT_ADMIN),
    "victor": ("acme", Role.CLIENT_VIEWER),
    "gina": ("globex", Role.CLIENT_ADMIN),
    "sam": (None, Role.STAFF),
}


@frozen
class LiveFirm:
    container: Container
    url: str
    users: dict[str, User]
    cases: dict[str, str]
    """The case id of each client organisation's request, by organisation id."""

    def principal(self, name: str) -> Principal:
        return self.users[name].as_principal()

    def session(self, name: str) -> tuple[str, str]:
        """(cookie name, session token) of a fresh sign-in of `name`."""
        signed_in = self.container.sign_in.sign_in(
            self.users[name].email, PASSWORD, client_address="127.0.0.1"
        )
        return session_cookie_name(self.container.settings), signed_in.token


@contextmanager
def served_firm(tmp_path: Path, **variables: str) -> Iterator[LiveFirm]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    clock = FixedClock()
    container = bootstrap(
        settings_for(tmp_path, port=str(port), base_url=f"http://127.0.0.1:{port}", **variables),
        clock=clock,
        ids=SequentialIds(),
        uow=InMemoryStorage().unit_of_work,
        files=InMemoryFileStore(clock),
        password_hasher=InMemoryPasswordHasher(),
        totp=InMemoryTotpVerifier(),
    )
    users = onboard_people(container, PEOPLE)
    cases = {
        organisation: container.cases.submit(
            users[owner].as_principal(),
            SubmitCase(subject=f"{owner.title()}'s VAT return", description="Please file it."),
        ).id
        for owner, organisation in (("alice", "acme"), ("gina", "globex"))
    }
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), log_level="warning", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveFirm(
            container=container, url=f"http://127.0.0.1:{port}", users=users, cases=cases
        )
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listener.close()


@frozen
class Event:
    name: str
    data: dict[str, str]


class EventStream:
    """Reads `GET /live` in a thread over a plain socket (HTTP/1.0, so the body is the bare
    stream); `next_event` waits for the next event. `close` shuts the socket, as a browser
    closing its tab does."""

    def __init__(self, firm: LiveFirm, name: str) -> None:
        cookie, token = firm.session(name)
        host, port = firm.url.removeprefix("http://").split(":")
        self._socket = socket.create_connection((host, int(port)), timeout=30)
        self._socket.sendall(
            f"GET /live HTTP/1.0\r\nHost: {host}:{port}\r\n"
            f"Cookie: {cookie}={token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        self._events: queue.Queue[Event | BaseException] = queue.Queue()
        self._connected = threading.Event()
        self.headers: dict[str, str] = {}
        self.comments: list[str] = []
        self.retry: str | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._connected.wait(10):
            raise RuntimeError("the live stream did not open")

    def _read(self) -> None:
        try:
            lines = self._socket.makefile("rb")
            self.status_line = lines.readline().decode().strip()
            while header := lines.readline().decode().strip():
                key, _, value = header.partition(":")
                self.headers[key.strip().lower()] = value.strip()
            name, data = "message", ""
            for raw in lines:
                line = raw.decode().rstrip("\r\n")
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    self._connected.set()
                elif line.startswith("retry:"):
                    self.retry = line.partition(":")[2].strip()
                elif line.startswith("event:"):
                    name = line.partition(":")[2].strip()
                elif line.startswith("data:"):
                    data += line.partition(":")[2].strip()
                elif line == "" and data:
                    self._events.put(Event(name=name, data=json.loads(data)))
                    name, data = "message", ""
            self._events.put(EOFError("the server ended the stream"))
        except OSError as error:  # the test closed the stream
            self._events.put(error)
        finally:
            self._connected.set()

    def next_event(self, timeout: float = 5.0) -> Event:
        item = self._events.get(timeout=timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        self._thread.join(timeout=5)
