"""The `portal` command: run the portal and look after its data.

    portal serve [--host H] [--port P] [--reload | --workers N]
    portal db upgrade | portal db check
    portal audit verify
    portal demo-data
    portal worker [--once]
    portal org add NAME [--account ID] | portal org link-account ORG_ID ACCOUNT_ID
    portal contract set ORG_ID --kind hourly --currency EUR --rate ROLE=AMOUNT ...
    portal contact invite ORG_ID EMAIL NAME --role client_admin | portal contact remove USER_ID
    portal salesforce reconcile --since ISO [--checkpoint FILE]
    portal billing run-month YYYY-MM
    portal reminders run [--date YYYY-MM-DD]

Settings come from `PORTAL_*` variables (docs/settings.md). Exit status: 0 done, 1 a check
failed, 2 a setting or the command line is wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from entrypoints.bootstrap import Container, bootstrap, configure_logging
from entrypoints.settings import Settings, SettingsError
from portal_core.billing.contract import (
    ContractKind,
    FixedFeeTerms,
    Grouping,
    HourlyTerms,
    RetainerTerms,
    TaxRule,
    Terms,
)
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.service import SetContract
from portal_core.errors import DomainError, InvalidInput
from portal_core.organisations.model import CLIENT_ROLES, Principal, Role
from portal_core.organisations.service import InviteContact

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
    _add_operations(commands)
    return parser


# --- commands ------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.workers < 1 or (args.reload and args.workers > 1):
        print("portal: --workers takes 1 or more, and one process with --reload.", file=sys.stderr)
        return USAGE
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


# --- onboarding, billing, sync and the worker ------------------------------------------------------

CLI_PRINCIPAL = Principal(user_id="system:cli", organisation_id=None, roles=frozenset({Role.ADMIN}))
"""Whom the CLI acts as: an administrator, named `system:cli` in the audit trail."""


def _add_operations(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = commands.add_parser(
        "worker", help="deliver the outbox (e-mails, write-back) and run the schedules"
    )
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.set_defaults(command=_worker)

    org = commands.add_parser("org", help="client organisations").add_subparsers(
        title="org commands", required=True, metavar="ORG_COMMAND"
    )
    add = org.add_parser("add", help="add a client organisation; prints its id")
    add.add_argument("name")
    add.add_argument("--account", help="its Salesforce Account id (001...)")
    add.set_defaults(command=_org_add)
    link = org.add_parser("link-account", help="link an organisation to its Salesforce Account")
    link.add_argument("organisation_id")
    link.add_argument("account_id", help="the Account id (001...), or `none` to unlink")
    link.set_defaults(command=_org_link_account)

    contract = commands.add_parser("contract", help="billing contracts").add_subparsers(
        title="contract commands", required=True, metavar="CONTRACT_COMMAND"
    )
    set_contract = contract.add_parser("set", help="set an organisation's contract from now on")
    set_contract.add_argument("organisation_id")
    set_contract.add_argument("--kind", choices=[k.value for k in ContractKind], required=True)
    set_contract.add_argument("--currency", required=True, help="ISO code, e.g. EUR")
    set_contract.add_argument(
        "--rate", action="append", default=[], metavar="ROLE=AMOUNT", help="hourly rate per role"
    )
    set_contract.add_argument("--cap", help="hourly: most a case may cost")
    set_contract.add_argument("--monthly-fee", help="retainer: the monthly fee")
    set_contract.add_argument("--included-hours", help="retainer: hours the fee includes")
    set_contract.add_argument("--overage-rate", help="retainer: per hour beyond them")
    set_contract.add_argument(
        "--fee", action="append", default=[], metavar="TYPE=AMOUNT", help="fixed fee per case type"
    )
    set_contract.add_argument("--tax-rate", default="0", help="percent, e.g. 20 (default 0)")
    set_contract.add_argument("--tax-note", default="", help="printed with the tax")
    set_contract.add_argument(
        "--grouping", choices=[g.value for g in Grouping], default=Grouping.PER_CASE.value
    )
    set_contract.add_argument("--payment-terms-days", type=int, default=30)
    set_contract.add_argument("--auto-issue", action="store_true", help="issue drafts at once")
    set_contract.set_defaults(command=_contract_set)

    _add_contacts_and_runs(commands)


def _add_contacts_and_runs(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    contact = commands.add_parser("contact", help="client contacts").add_subparsers(
        title="contact commands", required=True, metavar="CONTACT_COMMAND"
    )
    invite = contact.add_parser("invite", help="invite a contact; prints the invitation link")
    invite.add_argument("organisation_id")
    invite.add_argument("email")
    invite.add_argument("name")
    invite.add_argument(
        "--role",
        action="append",
        choices=sorted(r.value for r in CLIENT_ROLES),
        required=True,
        help="repeat for several roles",
    )
    invite.set_defaults(command=_contact_invite)
    remove = contact.add_parser("remove", help="remove a contact and end their sessions")
    remove.add_argument("user_id")
    remove.set_defaults(command=_contact_remove)

    salesforce = commands.add_parser("salesforce", help="the Salesforce link").add_subparsers(
        title="salesforce commands", required=True, metavar="SALESFORCE_COMMAND"
    )
    reconcile = salesforce.add_parser(
        "reconcile", help="pull the cases changed since a time (resumable, idempotent)"
    )
    reconcile.add_argument("--since", required=True, help="ISO time, e.g. 2026-01-01T00:00:00Z")
    reconcile.add_argument("--checkpoint", type=Path, help="file to resume from and save to")
    reconcile.set_defaults(command=_salesforce_reconcile)

    billing = commands.add_parser("billing", help="billing runs").add_subparsers(
        title="billing commands", required=True, metavar="BILLING_COMMAND"
    )
    run_month = billing.add_parser("run-month", help="draft the month's invoices (idempotent)")
    run_month.add_argument("month", help="YYYY-MM")
    run_month.set_defaults(command=_billing_run_month)

    reminders = commands.add_parser("reminders", help="payment reminders").add_subparsers(
        title="reminders commands", required=True, metavar="REMINDERS_COMMAND"
    )
    run = reminders.add_parser("run", help="queue today's payment reminders (idempotent)")
    run.add_argument("--date", help="YYYY-MM-DD instead of the firm's today")
    run.set_defaults(command=_reminders_run)


def _worker(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from entrypoints.worker import Worker  # noqa: PLC0415

    with _ready_container(environ) as container, _live_publishing(container):
        worker = Worker(container)
        if args.once:
            report = worker.run_once()
            print(
                f"Delivered {report.delivery.delivered} of {report.delivery.claimed} due "
                f"messages ({report.delivery.failed} to retry later); "
                f"{report.reminders_sent or 0} reminders, "
                f"{report.invoices_drafted or 0} monthly invoices drafted."
            )
            return OK
        stop = threading.Event()

        def request_stop(signum: int, frame: object) -> None:
            stop.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, request_stop)
        print("Worker running; stop it with Ctrl-C or SIGTERM.", flush=True)
        worker.run_forever(stop)
    return OK


def _org_add(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    with _ready_container(environ) as container, _domain_errors():
        organisation = container.onboarding.add_organisation(
            CLI_PRINCIPAL, args.name, external_account_id=args.account
        )
    print(f"Organisation {organisation.name} added: {organisation.id}")
    return OK


def _org_link_account(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    account_id = None if args.account_id.lower() == "none" else args.account_id
    with _ready_container(environ) as container, _domain_errors():
        organisation = container.onboarding.link_account(
            CLI_PRINCIPAL, args.organisation_id, account_id
        )
    if organisation.external_account_id is None:
        print(f"{organisation.name} is linked to no Salesforce Account.")
    else:
        print(f"{organisation.name} mirrors Salesforce Account {organisation.external_account_id}.")
    return OK


def _contract_set(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    try:
        command = _contract_command(args)
    except (ValueError, ArithmeticError) as wrong:
        print(f"portal: {wrong}", file=sys.stderr)
        return USAGE
    with _ready_container(environ) as container, _domain_errors():
        contract = container.billing.set_contract(CLI_PRINCIPAL, command)
    rates = ", ".join(f"{role} {rate}" for role, rate in sorted(contract.rates.items()))
    print(
        f"Contract {contract.id} set: {args.kind}, {contract.currency}, "
        f"{contract.grouping.value}{f', rates {rates}' if rates else ''}."
    )
    return OK


def _contract_command(args: argparse.Namespace) -> SetContract:
    kind = ContractKind(args.kind)
    terms: Terms
    if kind is ContractKind.HOURLY:
        terms = HourlyTerms(cap_per_case=_amount(args.cap, "--cap") if args.cap else None)
    elif kind is ContractKind.RETAINER:
        if not (args.monthly_fee and args.included_hours and args.overage_rate):
            raise ValueError("A retainer needs --monthly-fee, --included-hours and --overage-rate.")
        terms = RetainerTerms(
            monthly_fee=_amount(args.monthly_fee, "--monthly-fee"),
            included_minutes=int(_amount(args.included_hours, "--included-hours") * 60),
            overage_rate=_amount(args.overage_rate, "--overage-rate"),
        )
    else:
        terms = FixedFeeTerms(fees_by_case_type=_pairs(args.fee, "--fee"))
    return SetContract(
        organisation_id=args.organisation_id,
        terms=terms,
        currency=args.currency.upper(),
        rates=_pairs(args.rate, "--rate"),
        tax=TaxRule(rate_percent=_amount(args.tax_rate, "--tax-rate"), note=args.tax_note),
        grouping=Grouping(args.grouping),
        payment_terms_days=args.payment_terms_days,
        auto_issue=args.auto_issue,
    )


def _amount(text: str, option: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ValueError(f"{option} takes an amount such as 120.50, not {text!r}.") from None


def _pairs(values: Sequence[str], option: str) -> dict[str, Decimal]:
    pairs: dict[str, Decimal] = {}
    for value in values:
        name, separator, amount = value.rpartition("=")
        if not separator or not name.strip():
            raise ValueError(f"{option} takes NAME=AMOUNT, such as Senior=180, not {value!r}.")
        pairs[name.strip()] = _amount(amount, option)
    return pairs


def _contact_invite(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    with _ready_container(environ) as container, _domain_errors():
        invited = container.onboarding.invite_contact(
            CLI_PRINCIPAL,
            InviteContact(
                organisation_id=args.organisation_id,
                email=args.email,
                name=args.name,
                roles=frozenset(Role(role) for role in args.role),
            ),
        )
    print(f"Invited {invited.user.name} <{invited.user.email}>: {invited.user.id}")
    if invited.link is not None:
        print(f"Invitation link (also e-mailed): {invited.link}")
    return OK


def _contact_remove(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    with _ready_container(environ) as container, _domain_errors():
        user = container.onboarding.remove_contact(CLI_PRINCIPAL, args.user_id)
    print(f"Removed {user.name} <{user.email}>; their sessions have ended.")
    return OK


def _salesforce_reconcile(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from adapters.salesforce import FileCheckpoint, RichReconcileProgress, reconcile  # noqa: PLC0415

    try:
        since = datetime.fromisoformat(args.since.replace("Z", "+00:00"))
    except ValueError:
        print(f"portal: --since takes an ISO time, not {args.since!r}.", file=sys.stderr)
        return USAGE
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with _ready_container(environ) as container:
        if container.salesforce is None:
            print(
                "portal: Salesforce is not configured: set PORTAL_SALESFORCE_AUTH and the "
                "other PORTAL_SALESFORCE_* settings (docs/salesforce.md).",
                file=sys.stderr,
            )
            return USAGE
        checkpoint = FileCheckpoint(args.checkpoint) if args.checkpoint else None
        with _live_publishing(container), RichReconcileProgress() as progress:
            report = reconcile(
                container.salesforce.case_system,
                container.sync,
                since,
                checkpoint=checkpoint,
                progress=progress,
            )
    print(
        f"Reconciled {report.records} cases from {report.started_from.isoformat()} in "
        f"{report.pages} pages: {report.imported} imported, {report.applied} updated, "
        f"{report.unchanged} unchanged, {report.duplicates} seen before, {report.stale} older "
        f"than ours, {report.skipped} of unlinked accounts skipped."
    )
    return OK


def _billing_run_month(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    try:
        period = BillingPeriod.parse(args.month)
    except InvalidInput as wrong:
        print(f"portal: {wrong.message}", file=sys.stderr)
        return USAGE
    with _ready_container(environ) as container, _domain_errors():
        run = container.billing.run_month_for_all(CLI_PRINCIPAL, period)
    for invoice in run.invoices:
        print(f"Invoice {invoice.id} for {invoice.organisation_id}: {invoice.gross}")
    for organisation_id, reason in run.refused:
        print(f"Refused for {organisation_id}: {reason}", file=sys.stderr)
    # A month is billed once: running it again lists the same invoices and drafts none.
    print(f"{period.label()}: {len(run.invoices)} invoices, {len(run.refused)} refused.")
    return FAILED if run.refused else OK


def _reminders_run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    try:
        day = date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print(f"portal: --date takes YYYY-MM-DD, not {args.date!r}.", file=sys.stderr)
        return USAGE
    with _ready_container(environ) as container:
        sent = container.reminders.run(day)
    for reminder in sent:
        print(f"Reminder for invoice {reminder.number} ({reminder.step_days:+d} days) queued.")
    print(f"{len(sent)} reminders queued; the worker e-mails them.")
    return OK


@contextmanager
def _ready_container(environ: Mapping[str, str]) -> Iterator[Container]:
    with _container(environ) as container:
        container.prepare_storage()
        yield container


def _live_publishing(container: Container) -> AbstractContextManager[None]:
    """With a shared live backend, the changes this process commits reach the pages served by
    the web processes; with `memory` there is nobody to tell in this process."""
    settings = container.settings
    if settings.live_backend == "memory":
        return nullcontext()
    from adapters.live import backend_publishing, make_backend  # noqa: PLC0415

    backend = make_backend(
        settings.live_backend, redis_url=settings.redis_url, database_url=settings.database_url
    )
    return backend_publishing(container.publisher, backend)


@contextmanager
def _domain_errors() -> Iterator[None]:
    """A refused command exits 1 with the domain's own message (no traceback)."""
    try:
        yield
    except DomainError as refused:
        print(f"portal: {refused.message}", file=sys.stderr)
        raise SystemExit(FAILED) from None


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
        if settings.smtp_host is None:
            lines.append(f"  e-mail:   .eml files in {settings.mail_outbox_dir} (PORTAL_SMTP_HOST)")
        lines.append(f"  demo data: {'on' if settings.demo_data else 'off'} (PORTAL_DEMO_DATA)")
        if settings.demo_data:
            from entrypoints.demo import demo_sign_ins  # noqa: PLC0415

            lines += [f"  demo sign-in: {line}" for line in demo_sign_ins()]
    return "\n".join(lines)


def _source_root() -> Path:
    return Path(__file__).resolve().parent.parent


if __name__ == "__main__":
    sys.exit(main())
