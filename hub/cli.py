"""The `hub` command: serve, worker, db, demo, users, departments, tokens."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hub import serving
from hub.db import make_engine, session_scope
from hub.errors import HubError
from hub.models import Role
from hub.settings import Environment, Settings, SettingsError, load_settings


class Context:
    """Settings and engine, created on first use so `hub --help` needs no database."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.effective_database_url)
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction; a domain error becomes a one-line CLI error (exit code 1)."""
        try:
            with session_scope(self.engine) as session:
                yield session
        except HubError as exc:
            details = getattr(exc, "fields", {}) or {}
            lines = [exc.message] + [
                f"  --{field}: {message}" for field, message in details.items()
            ]
            raise click.ClickException("\n".join(lines)) from None


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def main(verbose: bool) -> None:
    """Crisis-mode teaching support hub."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- serving -----------------------------------------------------------------------------


@main.command()
@click.option("--host", help="Address to listen on (default HUB_HOST, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default HUB_PORT, 8000).")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Web worker processes; only one of them runs the scheduler.",
)
@click.option(
    "--worker-start-timeout",
    type=click.FloatRange(min=1),
    default=serving.WORKER_START_TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds a worker may take to start serving before it is killed as hung.",
)
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
@pass_context
def serve(
    ctx: Context,
    host: str | None,
    port: int | None,
    workers: int,
    worker_start_timeout: float,
    reload: bool,
) -> None:
    """Serve the web hub (and the scheduler, if this process wins its lock)."""
    import uvicorn

    settings = ctx.settings
    logging.getLogger("hub").setLevel(logging.INFO)
    click.echo(
        f"Hub on http://{host or settings.host}:{port or settings.port} "
        f"({settings.database_backend}, {settings.env.value}"
        f"{', demo' if settings.demo else ''})"
    )
    production = settings.env is Environment.production
    if reload:
        uvicorn.run(
            "hub.asgi:app",
            host=host or settings.host,
            port=port or settings.port,
            reload=True,
            **serving.uvicorn_options(production=production),
        )
        return
    serving.run(
        "hub.serving:served_app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        production=production,
        start_timeout=worker_start_timeout,
    )


@main.command()
@click.option(
    "--retry-seconds",
    type=float,
    default=15.0,
    show_default=True,
    help="How often a standby worker tries to take over the scheduler lock.",
)
@pass_context
def worker(ctx: Context, retry_seconds: float) -> None:
    """Run the scheduler (periodic jobs). Safe to run twice: the second one stands by."""
    from hub.jobs import periodic_jobs
    from hub.scheduler import Scheduler

    logging.getLogger("hub").setLevel(logging.INFO)
    scheduler = Scheduler(ctx.engine, ctx.settings, periodic_jobs(), retry_seconds=retry_seconds)
    done = threading.Event()

    def stop(*_: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.start()
    click.echo("worker started; waiting for the scheduler lock")
    done.wait()
    scheduler.stop()
    click.echo("worker stopped")


# --- outbox --------------------------------------------------------------------------------


@main.group()
def outbox() -> None:
    """Messages leaving the hub (e-mail, Teams)."""


@outbox.command("status")
@pass_context
def outbox_status(ctx: Context) -> None:
    """Count queued, sent and failed messages per channel."""
    from sqlalchemy import func, select

    from hub.outbox import OutboxMessage

    with session_scope(ctx.engine, write=False) as session:
        rows = session.execute(
            select(OutboxMessage.channel, OutboxMessage.status, func.count())  # type: ignore[call-overload]
            .group_by(OutboxMessage.channel, OutboxMessage.status)
            .order_by(OutboxMessage.channel, OutboxMessage.status)
        ).all()
    if not rows:
        click.echo("outbox empty")
    for channel, status, count in rows:
        click.echo(f"{channel:<6} {status:<8} {count}")
    if not ctx.settings.smtp_host:
        click.echo("note: HUB_SMTP_HOST is not set, so e-mail stays queued (see /admin/outbox)")


@outbox.command("deliver")
@pass_context
def outbox_deliver(ctx: Context) -> None:
    """Deliver due messages now (the worker does this every HUB_OUTBOX_INTERVAL_SECONDS)."""
    from hub.transports import deliver_outbox

    report = deliver_outbox(ctx.engine, ctx.settings)
    click.echo(f"sent {report.sent}, to retry {report.retried}, failed {report.failed}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    if report.failed:
        raise SystemExit(1)


# --- database and demo data --------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@pass_context
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply migrations up to REVISION."""
    from hub.migrate import current_revision, upgrade

    upgrade(ctx.engine, revision)
    click.echo(
        f"database at revision {current_revision(ctx.engine)} ({ctx.settings.database_backend})"
    )


@db.command("current")
@pass_context
def db_current(ctx: Context) -> None:
    """Print the applied migration revision."""
    from hub.migrate import current_revision

    click.echo(current_revision(ctx.engine) or "empty")


@main.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
@pass_context
def demo_load(ctx: Context) -> None:
    """Create the demo departments and accounts (idempotent; refused in production)."""
    from hub.demo import load_demo

    if ctx.settings.env is Environment.production:
        raise click.ClickException("demo data is refused in production (HUB_ENV=production)")
    with ctx.transaction() as session:
        created = load_demo(session, base_url=ctx.settings.base_url)
    click.echo("demo data created: " + ", ".join(f"{n} {what}" for what, n in created.items()))


# --- people ------------------------------------------------------------------------------


@main.group()
def departments() -> None:
    """Departments and their referents."""


@departments.command("create")
@click.option("--code", required=True, help="Short code, e.g. SCI.")
@click.option("--name", required=True, help="Full name.")
@pass_context
def departments_create(ctx: Context, code: str, name: str) -> None:
    from hub.people import create_department

    with ctx.transaction() as session:
        department = create_department(session, code=code, name=name)
    click.echo(f"created department {department.code}")


@departments.command("list")
@pass_context
def departments_list(ctx: Context) -> None:
    """One line per department: code, a tab, the name."""
    from hub.people import list_departments

    with ctx.transaction() as session:
        for department in list_departments(session):
            click.echo(f"{department.code}\t{department.name}")


@departments.command("assign")
@click.option("--code", required=True, help="Department code.")
@click.option("--email", required=True, help="The referent's e-mail.")
@click.option("--backup", is_flag=True, help="As the department's backup referent.")
@pass_context
def departments_assign(ctx: Context, code: str, email: str, backup: bool) -> None:
    """Make a referent serve a department (or be its backup)."""
    from hub.people import assign_referent, get_department, require_user_by_email

    with ctx.transaction() as session:
        department = get_department(session, code)
        user = require_user_by_email(session, email)
        assign_referent(session, department=department, user=user, backup=backup)
    click.echo(f"{user.email} serves {department.code}{' as backup' if backup else ''}")


@main.group()
def users() -> None:
    """People."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--department",
    "departments",
    multiple=True,
    help="Department code; a referent may give it several times.",
)
@click.option(
    "--password",
    is_flag=True,
    help="Prompt for a password (otherwise the account signs in by single sign-on).",
)
@pass_context
def users_create(
    ctx: Context, email: str, name: str, role: str, departments: tuple[str, ...], password: bool
) -> None:
    from hub.people import create_user

    secret = None
    if password:
        secret = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with ctx.transaction() as session:
        user = create_user(
            session, email=email, name=name, role=role, departments=departments, password=secret
        )
    click.echo(f"created {user.role.value} {user.email}")


@main.group()
def tokens() -> None:
    """API tokens (for `Authorization: Bearer ...`)."""


@tokens.command("create")
@click.option("--email", required=True, help="Owner of the token.")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@pass_context
def tokens_create(ctx: Context, email: str, name: str) -> None:
    """Create a token and print it (only this once)."""
    from hub.people import require_user_by_email
    from hub.tokens import create_token

    with ctx.transaction() as session:
        user = require_user_by_email(session, email)
        _token, secret = create_token(session, user=user, name=name)
    click.echo(secret)


@tokens.command("list")
@click.option("--email", required=True)
@pass_context
def tokens_list(ctx: Context, email: str) -> None:
    """id, prefix, name, created, last used, state: one line per token, tab-separated."""
    from hub.people import require_user_by_email
    from hub.tokens import list_tokens

    with ctx.transaction() as session:
        user = require_user_by_email(session, email)
        for token in list_tokens(session, user=user):
            state = "revoked" if token.revoked_at else "active"
            used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "-"
            click.echo(
                f"{token.id}\t{token.prefix}\t{token.name}\t"
                f"{token.created_at.isoformat(timespec='seconds')}\t{used}\t{state}"
            )


@tokens.command("revoke")
@click.argument("token_id", type=int)
@pass_context
def tokens_revoke(ctx: Context, token_id: int) -> None:
    """Revoke a token by id (see `hub tokens list`)."""
    from hub.tokens import revoke_token

    with ctx.transaction() as session:
        revoke_token(session, token_id=token_id, actor=None)
    click.echo(f"token {token_id} revoked")


@main.group()
def exams() -> None:
    """Remote exams."""


@exams.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_context
def exams_import(ctx: Context, file: Path) -> None:
    """Import the exam timetable (CSV); any bad row imports nothing (exit status 1)."""
    from hub.exams.importer import import_csv

    with ctx.transaction() as session:
        result = import_csv(session, file.read_bytes())
        if not result.ok:
            session.rollback()
    if not result.ok:
        for line, reason in result.errors:
            click.echo(f"{file.name}:{line}: {reason}", err=True)
        raise click.ClickException(
            f"nothing imported: {len(result.errors)} line(s) to fix in {file.name}"
        )
    click.echo(f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@main.group()
def kb() -> None:
    """Knowledge base."""


@kb.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_context
def kb_import(ctx: Context, directory: Path) -> None:
    """Import Markdown articles (idempotent by slug); bad files are listed, good ones kept."""
    from kb.importer import import_directory
    from kb.synonyms import load_starter_synonyms

    with ctx.transaction() as session:
        report = import_directory(session, directory)
        synonyms = load_starter_synonyms(session)
    click.echo(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.errors)} rejected"
    )
    if synonyms:
        click.echo(f"{synonyms} starter synonyms added (edit them on /kb/synonyms)")
    for name, reason in report.errors:
        click.echo(f"{name}: {reason}", err=True)
    if report.errors:
        sys.exit(1)


@kb.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_context
def kb_export(ctx: Context, directory: Path) -> None:
    """Write every article as DIRECTORY/<slug>.md with YAML front matter."""
    from kb.importer import export_directory

    with ctx.transaction() as session:
        count = export_directory(session, directory)
    click.echo(f"{count} articles written to {directory}")


# --- Microsoft Teams ---------------------------------------------------------------------


@main.group()
def teams() -> None:
    """Microsoft Teams: sign-in of the service account, configuration check, channels."""


@teams.command("login")
@pass_context
def teams_login(ctx: Context) -> None:
    """Sign the Teams service account in (device code); the token cache is kept (0600)."""
    from hub.teams.auth import login
    from hub.teams.gateway import TeamsError

    try:
        who = login(ctx.settings, click.echo)
    except TeamsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"signed in as {who}; tokens saved in {ctx.settings.teams_token_cache_path}")


@teams.command("check")
@click.option("--send-test", is_flag=True, help="Also post a test message to each channel.")
@pass_context
def teams_check(ctx: Context, send_test: bool) -> None:
    """Verify access to each configured channel; exit status 1 if anything is wrong."""
    from hub.teams.check import run_check

    try:
        engine: Engine | None = ctx.engine
    except Exception:  # the check still says what it can without the database
        engine = None
    report = run_check(ctx.settings, engine=engine, send_test=send_test)
    for line in report.lines:
        click.echo(line)
    if report.problems:
        click.echo(f"{report.problems} problem(s) found", err=True)
        sys.exit(1)
    click.echo("Teams: all checks passed")


@teams.command("channel")
@click.option("--department", "code", required=True, help="Department code.")
@click.option(
    "--channel-id",
    default="",
    help='"<channel id>" in the crisis team or "<team id>/<channel id>"; empty to clear.',
)
@pass_context
def teams_channel(ctx: Context, code: str, channel_id: str) -> None:
    """Set a department's own Teams channel (its posts go to the crisis channel otherwise)."""
    from hub.people import get_department
    from hub.teams.channels import set_department_channel

    with ctx.transaction() as session:
        department = get_department(session, code)
        set_department_channel(session, department, channel_id, actor=None)
        value = department.teams_channel_id
    click.echo(f"{code}: {value or 'crisis channel'}")


# --- crisis mode ---------------------------------------------------------------------------


@main.group()
def crisis() -> None:
    """Crisis mode: banner, pinned articles, stricter targets, announcement."""


def _crisis_actor(session: Session, email: str) -> Any:
    from sqlmodel import select

    from hub.models import User

    if not email:
        return None
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise click.ClickException(f"--by {email}: no such account")
    return user


@crisis.command("on")
@click.option("--message", required=True, help="The banner and announcement text.")
@click.option("--teams/--no-teams", default=True, show_default=True, help="Post to Teams.")
@click.option("--mail", is_flag=True, help="Also e-mail every active staff member.")
@click.option("--webinars", is_flag=True, help="Create the webinar series from the template.")
@click.option("--by", "email", default="", help="E-learning team member acting (logged).")
@pass_context
def crisis_on(
    ctx: Context, message: str, teams: bool, mail: bool, webinars: bool, email: str
) -> None:
    """Turn crisis mode on (logged; the announcement goes through the outbox)."""
    import getpass

    from hub.crisis.mode import switch

    with ctx.transaction() as session:
        result = switch(
            session,
            active=True,
            actor=_crisis_actor(session, email),
            actor_label=f"cli:{getpass.getuser()}",
            message=message,
            announce_teams=teams,
            announce_mail=mail,
            create_webinars=webinars,
            base_url=ctx.settings.base_url,
        )
    click.echo(
        f"crisis mode ON; announcement queued (Teams: {'yes' if teams else 'no'}, "
        f"e-mails: {result.mails}); webinar sessions created: {result.webinars}"
    )


@crisis.command("off")
@click.option("--teams/--no-teams", default=True, show_default=True, help="Post to Teams.")
@click.option("--mail", is_flag=True, help="Also e-mail every active staff member.")
@click.option("--by", "email", default="", help="E-learning team member acting (logged).")
@pass_context
def crisis_off(ctx: Context, teams: bool, mail: bool, email: str) -> None:
    """Turn crisis mode off (logged)."""
    import getpass

    from hub.crisis.mode import switch

    with ctx.transaction() as session:
        switch(
            session,
            active=False,
            actor=_crisis_actor(session, email),
            actor_label=f"cli:{getpass.getuser()}",
            announce_teams=teams,
            announce_mail=mail,
        )
    click.echo("crisis mode OFF")


@crisis.command("status")
@pass_context
def crisis_status(ctx: Context) -> None:
    """Say whether crisis mode is on, since when and with which message."""
    from hub.crisis.state import crisis_state

    with session_scope(ctx.engine, write=False) as session:
        state = crisis_state(session)
        if state is None or not state.active:
            click.echo("crisis mode OFF")
        else:
            click.echo(
                f"crisis mode ON since {state.changed_at:%Y-%m-%d %H:%M} UTC: {state.message}"
            )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
