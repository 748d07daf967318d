"""The `portal` command: run the portal and look after its data.

    portal serve [--host H] [--port P] [--reload | --workers N]
    portal db upgrade | portal db check
    portal audit verify
    portal demo-data

Settings come from `PORTAL_*` variables (docs/settings.md). Exit status: 0 done, 1 a check
failed, 2 a setting or the command line is wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from entrypoints.bootstrap import Container, bootstrap, configure_logging
from entrypoints.settings import Settings, SettingsError

if TYPE_CHECKING:
    from litestar import Litestar

    from adapters.sql import SqlStorage

OK, FAILED, USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace, Mapping[str, str]], int]


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: Command = args.command
    try:
        return command(args, os.environ if environ is None else environ)
    except SettingsError as wrong:
        print(f"portal: {wrong}", file=sys.stderr)
        return USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portal", description="The client portal: serve it and look after its data."
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the portal's web server")
    serve.add_argument("--host", help="address to listen on (default: PORTAL_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: PORTAL_PORT or 8000)")
    serve.add_argument("--reload", action="store_true", help="restart when the code changes")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (default: 1; not with --reload)"
    )
    serve.set_defaults(command=_serve)

    db = commands.add_parser("db", help="the database schema").add_subparsers(
        title="db commands", required=True, metavar="DB_COMMAND"
    )
    db.add_parser("upgrade", help="migrate the schema to this version").set_defaults(
        command=_db_upgrade
    )
    db.add_parser("check", help="exit 1 unless the schema is current").set_defaults(
        command=_db_check
    )

    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        title="audit commands", required=True, metavar="AUDIT_COMMAND"
    )
    audit.add_parser("verify", help="check the audit trail's hash chain").set_defaults(
        command=_audit_verify
    )

    commands.add_parser(
        "demo-data", help="add the demo organisations, people and cases (idempotent)"
    ).set_defaults(command=_demo_data)
    return parser


# --- commands ------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    import uvicorn  # noqa: PLC0415 (only this command needs the server)

    from adapters.sql import SchemaOutOfDate  # noqa: PLC0415
    from entrypoints.web.app import APP_FACTORY, create_served_app  # noqa: PLC0415

    overrides = {}
    if args.host:
        overrides["PORTAL_HOST"] = args.host
    if args.port:
        overrides["PORTAL_PORT"] = str(args.port)
    settings = Settings.from_env({**environ, **overrides})
    configure_logging(settings)
    print(_serve_banner(settings), flush=True)
    app: Litestar | str
    try:
        if args.reload or args.workers > 1:
            # The reloading server (and each worker process) builds the app in a fresh process
            # that reads the environment itself, so the command-line overrides must be in it
            # too. The storage and demo data are made ready here first, once, so that a problem
            # shows once, not in a restart loop, and workers never race to migrate.
            with _container({**environ, **overrides}) as container:
                container.prepare_storage()
                if settings.demo_data:
                    from entrypoints.demo import load_demo_data  # noqa: PLC0415

                    load_demo_data(container)
            os.environ.update(overrides)
            app = APP_FACTORY
        else:
            app = create_served_app(settings)
    except SchemaOutOfDate as outdated:
        print(f"portal: {outdated}", file=sys.stderr)
        return FAILED
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        factory=args.reload or args.workers > 1,
        reload=args.reload,
        workers=args.workers if not args.reload else None,
        reload_dirs=[str(_source_root())] if args.reload else None,
        log_level=settings.log_level.lower(),
        server_header=False,
        # The app reads X-Forwarded-For itself, from PORTAL_TRUSTED_PROXIES only, and writes
        # one access line per request with its request id; uvicorn's logging goes to the root.
        proxy_headers=False,
        access_log=False,
        log_config=None,
    )
    return OK


def _db_upgrade(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    with _container(environ) as container:
        database = _require_database(container)
        database.upgrade()
    print("The database schema is up to date.")
    return OK


def _db_check(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from adapters.sql import SchemaOutOfDate  # noqa: PLC0415

    with _container(environ) as container:
        try:
            _require_database(container).require_current_schema()
        except SchemaOutOfDate as outdated:
            print(str(outdated), file=sys.stderr)
            return FAILED
    print("The database schema is current.")
    return OK


def _audit_verify(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from adapters.sql import SchemaOutOfDate  # noqa: PLC0415

    with _container(environ) as container:
        database = _require_database(container)
        try:
            database.require_current_schema()
        except SchemaOutOfDate as outdated:
            print(str(outdated), file=sys.stderr)
            return FAILED
        result = database.verify_audit_chain()
    if result.ok:
        print(f"OK: {result.entries_checked} audit entries, the hash chain is intact.")
        return OK
    where = f"entry {result.first_broken_sequence}"
    if result.first_broken_id is not None:
        where += f" (record {result.first_broken_id})"
    print(
        f"BROKEN at {where}: {result.problem} "
        f"{result.entries_checked} entries checked before it stopped adding up.",
        file=sys.stderr,
    )
    return FAILED


def _demo_data(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from entrypoints.demo import load_demo_data  # noqa: PLC0415

    with _container(environ) as container:
        container.prepare_storage()
        added = load_demo_data(container)
    if added.organisations == added.users == added.cases == 0:
        print("The demo data is there already; nothing added.")
    else:
        print(
            f"Demo data added: {added.organisations} organisations, {added.users} people, "
            f"{added.cases} cases."
        )
    return OK


# --- helpers -------------------------------------------------------------------------------------


@contextmanager
def _container(environ: Mapping[str, str]) -> Iterator[Container]:
    """Settings, logging and a bootstrapped container, closed afterwards."""
    settings = Settings.from_env(environ)
    configure_logging(settings)
    container = bootstrap(settings)
    try:
        yield container
    finally:
        container.close()


def _require_database(container: Container) -> SqlStorage:
    if container.database is None:  # only when a caller wired its own storage
        raise SettingsError("This command needs the SQL storage (PORTAL_DATABASE_URL).")
    return container.database


def _serve_banner(settings: Settings) -> str:
    lines = [f"Client portal for {settings.firm_name} on {settings.base_url}"]
    if not settings.is_production:
        lines.append(f"  database: {settings.database_url}")
        lines.append(f"  files:    {settings.files_dir}")
        lines.append(f"  demo data: {'on' if settings.demo_data else 'off'} (PORTAL_DEMO_DATA)")
        if settings.demo_data:
            from entrypoints.demo import demo_sign_ins  # noqa: PLC0415

            lines += [f"  demo sign-in: {line}" for line in demo_sign_ins()]
    return "\n".join(lines)


def _source_root() -> Path:
    return Path(__file__).resolve().parent.parent


if __name__ == "__main__":
    sys.exit(main())
