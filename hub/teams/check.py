"""`hub teams check`: is Teams set up right? Each problem in plain words, with what to do.

Checks the settings, the sign-in (token present, accepted by Graph, its permissions), then
each configured channel (the crisis one and every department's own): it exists, the service
account can see it, and can read its messages. Posting permission is only proven by
posting: `--send-test` posts a short test message to each channel.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from hub.settings import Settings
from hub.teams.auth import PERMISSION_NAMES
from hub.teams.channels import crisis_channel, gateway_for, parse_channel
from hub.teams.gateway import ChannelRef, NotSignedIn, TeamsError, TeamsGateway


@dataclass
class CheckReport:
    lines: list[str] = field(default_factory=list)
    problems: int = 0

    def ok(self, text: str) -> None:
        self.lines.append(f"ok      {text}")

    def problem(self, text: str) -> None:
        self.problems += 1
        self.lines.append(f"PROBLEM {text}")

    def note(self, text: str) -> None:
        self.lines.append(f"        {text}")


def _missing_settings(settings: Settings) -> list[str]:
    missing = []
    if not settings.teams_team_id:
        missing.append("HUB_TEAMS_TEAM_ID (the crisis team's id)")
    if not settings.teams_channel_id:
        missing.append("HUB_TEAMS_CHANNEL_ID (the crisis channel's id)")
    if not settings.teams_static_token:
        if not settings.teams_tenant_id:
            missing.append("HUB_TEAMS_TENANT_ID (your Microsoft Entra tenant)")
        if not settings.teams_client_id:
            missing.append("HUB_TEAMS_CLIENT_ID (the app registration used to sign in)")
    return missing


def token_permissions(token: str) -> set[str] | None:
    """The delegated permissions (`scp`) of a JWT access token; None if it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    scopes = payload.get("scp") if isinstance(payload, dict) else None
    return set(str(scopes).split()) if scopes else None


def _describe(exc: TeamsError, what: str, channel: ChannelRef | None = None) -> str:
    where = f" {channel}" if channel else ""
    if isinstance(exc, NotSignedIn):
        return f"not signed in: {exc}"
    if exc.status is None:
        return f"{what}{where}: {exc}"
    if exc.status == 401:
        return (
            f"{what}{where}: the token was refused (401): it expired, was revoked or belongs "
            "to another tenant; run `hub teams login` (or renew HUB_TEAMS_STATIC_TOKEN)"
        )
    if exc.status == 403:
        return (
            f"{what}{where}: access refused (403): the service account must be a member of "
            "the team, and the app registration needs the delegated permissions "
            f"{', '.join(PERMISSION_NAMES)} with admin consent"
        )
    if exc.status == 404:
        return (
            f"{what}{where}: team or channel not found (404): check the team id and channel id "
            "(Teams: channel menu > Get link to channel; groupId= is the team, the 19:... part "
            "the channel)"
        )
    if exc.status == 429:
        return f"{what}{where}: Graph is throttling (429); try again in a minute"
    return f"{what}{where}: Graph answered {exc.status}: {exc}"


def _channels(settings: Settings, engine: Engine | None) -> list[tuple[str, ChannelRef]]:
    channels = [("crisis channel", crisis_channel(settings))]
    if engine is None:
        return channels
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return channels + _department_channels(settings, engine)
    except SQLAlchemyError:  # no database yet: the crisis channel can still be checked
        return channels


def _department_channels(settings: Settings, engine: Engine) -> list[tuple[str, ChannelRef]]:
    from hub.db import session_scope
    from hub.models import Department

    channels: list[tuple[str, ChannelRef]] = []
    with session_scope(engine, write=False) as session:
        rows = session.scalars(
            select(Department)
            .where(col(Department.teams_channel_id).is_not(None))
            .order_by(col(Department.code))
        ).all()
        for department in rows:
            if department.teams_channel_id:
                channels.append(
                    (
                        f"channel of department {department.code}",
                        parse_channel(department.teams_channel_id, settings),
                    )
                )
    return channels


def run_check(
    settings: Settings,
    *,
    engine: Engine | None = None,
    send_test: bool = False,
    gateway_factory: Callable[[Settings], TeamsGateway] = gateway_for,
) -> CheckReport:
    report = CheckReport()
    mode = settings.teams_mode
    if not mode:
        missing = _missing_settings(settings)
        report.problem(
            "Teams is not configured (posts stay in the outbox). Missing: " + "; ".join(missing)
        )
        report.note("or set HUB_TEAMS_WEBHOOK_URL to post through a Teams Workflows webhook")
        return report
    if mode == "webhook":
        url = settings.teams_webhook_url
        if not url.startswith("https://"):
            report.problem(f"HUB_TEAMS_WEBHOOK_URL must be an https:// address (got {url[:40]!r})")
            return report
        report.ok("Workflows webhook mode: posting only (no feed, no department channels)")
        if not send_test:
            report.note("a webhook can only be verified by posting: use --send-test")
            return report

    try:
        gateway = gateway_factory(settings)
    except Exception as exc:
        report.problem(f"cannot start the Teams gateway: {type(exc).__name__}: {exc}")
        return report
    try:
        if mode == "graph":
            if not _check_sign_in(settings, gateway, report):
                return report
            for label, channel in _channels(settings, engine):
                _check_channel(gateway, label, channel, report)
        if send_test:
            targets = (
                _channels(settings, engine)
                if mode == "graph"
                else [("webhook channel", crisis_channel(settings))]
            )
            for label, channel in targets:
                try:
                    gateway.post_message(
                        channel, "<p>Test du hub de crise (hub teams check --send-test)</p>"
                    )
                    report.ok(f"{label}: test message posted")
                except TeamsError as exc:
                    report.problem(_describe(exc, f"posting to the {label}", channel))
    finally:
        gateway.close()
    return report


def _check_sign_in(settings: Settings, gateway: TeamsGateway, report: CheckReport) -> bool:
    source = "HUB_TEAMS_STATIC_TOKEN" if settings.teams_static_token else "the sign-in"
    try:
        who = gateway.signed_in_as()
    except TeamsError as exc:
        if exc.status is None and not isinstance(exc, NotSignedIn):
            report.problem(f"Microsoft Graph unreachable at {settings.teams_graph_url}: {exc}")
        else:
            report.problem(_describe(exc, f"token from {source}"))
        return False
    report.ok(f"signed in as {who} ({source}; Graph at {settings.teams_graph_url})")
    token = settings.teams_static_token
    if not token:
        from hub.teams.auth import token_source

        try:
            token = token_source(settings)()
        except TeamsError:
            token = ""
    granted = token_permissions(token) if token else None
    if granted is not None:
        missing = [name for name in PERMISSION_NAMES if name not in granted]
        needed = {"ChannelMessage.Send", "ChannelMessage.Read.All"}
        for name in missing:
            if name in needed:
                report.problem(
                    f"the token lacks the delegated permission {name}: add it to the app "
                    "registration, grant admin consent, then run `hub teams login` again"
                )
            else:
                report.note(f"the token lacks {name} (needed for: {_needed_for(name)})")
    return True


def _needed_for(permission: str) -> str:
    return {
        "Calendars.ReadWrite": "Teams meetings for webinars",
        "Channel.ReadBasic.All": "channel names and links",
        "User.Read": "the check",
    }.get(permission, "the hub")


def _check_channel(
    gateway: TeamsGateway, label: str, channel: ChannelRef, report: CheckReport
) -> None:
    try:
        info = gateway.channel_info(channel)
    except TeamsError as exc:
        report.problem(_describe(exc, label, channel))
        return
    report.ok(f"{label}: {info.name or channel.channel_id}")
    try:
        gateway.recent_messages(channel, 1)
    except TeamsError as exc:
        if exc.status == 403:
            report.problem(
                f"{label}: cannot read its messages (403): the app needs the delegated "
                "permission ChannelMessage.Read.All (home page feed and the check that "
                "prevents duplicate posts)"
            )
        else:
            report.problem(_describe(exc, f"{label} (reading messages)", channel))
