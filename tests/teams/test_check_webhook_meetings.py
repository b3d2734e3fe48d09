"""`hub teams check` for common misconfigurations, the Workflows webhook, meetings, login cache."""

from __future__ import annotations

import os
import socket
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hub import outbox
from hub.app import create_app
from hub.cli import main
from hub.models import Role
from hub.outbox import Channel, OutboxMessage
from hub.settings import Settings
from hub.teams.auth import write_private_file
from hub.teams.channels import gateway_for
from hub.teams.transport import TeamsTransport
from tests.factories import make_user, post_form, sign_in
from tests.teams.conftest import CHANNEL, TEAM
from tests.teams.fake_graph import FakeGraph

TEAMS_VARIABLES = [
    "HUB_TEAMS_TENANT_ID",
    "HUB_TEAMS_CLIENT_ID",
    "HUB_TEAMS_TEAM_ID",
    "HUB_TEAMS_CHANNEL_ID",
    "HUB_TEAMS_GRAPH_URL",
    "HUB_TEAMS_STATIC_TOKEN",
    "HUB_TEAMS_WEBHOOK_URL",
]


def run_check(tmp_path: Path, database_url: str, **env: str) -> Result:
    environment: dict[str, str | None] = dict.fromkeys(TEAMS_VARIABLES)
    environment.update(
        HUB_ENV="test",
        HUB_DATA_DIR=str(tmp_path / "var"),
        HUB_DATABASE_URL=database_url,
        HUB_TEAMS_TIMEOUT_SECONDS="5",
    )
    environment.update(env)
    return CliRunner().invoke(main, ["teams", "check"], env=environment)


def graph_env(graph: FakeGraph, **overrides: str) -> dict[str, str]:
    values = {
        "HUB_TEAMS_GRAPH_URL": graph.url,
        "HUB_TEAMS_STATIC_TOKEN": graph.token,
        "HUB_TEAMS_TEAM_ID": TEAM,
        "HUB_TEAMS_CHANNEL_ID": CHANNEL,
    }
    values.update(overrides)
    return values


def test_check_passes_when_everything_is_right(
    tmp_path: Path, database_url: str, fake_graph: FakeGraph
) -> None:
    result = run_check(tmp_path, database_url, **graph_env(fake_graph))
    assert result.exit_code == 0, result.output
    assert "signed in as service@college.example" in result.output
    assert "crisis channel: Gestion de crise" in result.output


def test_check_names_missing_settings(tmp_path: Path, database_url: str) -> None:
    result = run_check(tmp_path, database_url, HUB_TEAMS_TEAM_ID="team")
    assert result.exit_code == 1
    assert "Teams is not configured" in result.output
    assert "HUB_TEAMS_CHANNEL_ID" in result.output
    assert "HUB_TEAMS_TENANT_ID" in result.output


def test_check_says_when_nobody_signed_in(tmp_path: Path, database_url: str) -> None:
    result = run_check(
        tmp_path,
        database_url,
        HUB_TEAMS_TENANT_ID="tenant",
        HUB_TEAMS_CLIENT_ID="client",
        HUB_TEAMS_TEAM_ID=TEAM,
        HUB_TEAMS_CHANNEL_ID=CHANNEL,
    )
    assert result.exit_code == 1
    assert "not signed in" in result.output and "hub teams login" in result.output


def test_check_explains_a_refused_token(
    tmp_path: Path, database_url: str, fake_graph: FakeGraph
) -> None:
    result = run_check(
        tmp_path, database_url, **graph_env(fake_graph, HUB_TEAMS_STATIC_TOKEN="expired")
    )
    assert result.exit_code == 1
    assert "refused (401)" in result.output and "hub teams login" in result.output


def test_check_explains_403(tmp_path: Path, database_url: str, fake_graph: FakeGraph) -> None:
    fake_graph.forbidden_channels = True
    result = run_check(tmp_path, database_url, **graph_env(fake_graph))
    assert result.exit_code == 1
    assert "access refused (403)" in result.output
    assert "member of the team" in result.output and "ChannelMessage.Send" in result.output


def test_check_explains_missing_read_permission(
    tmp_path: Path, database_url: str, fake_graph: FakeGraph
) -> None:
    fake_graph.forbidden_reads = True
    result = run_check(tmp_path, database_url, **graph_env(fake_graph))
    assert result.exit_code == 1
    assert "ChannelMessage.Read.All" in result.output


def test_check_explains_an_unknown_channel_including_a_department_one(
    tmp_path: Path, database_url: str, fake_graph: FakeGraph, db: Session
) -> None:
    from tests.factories import make_department

    department = make_department(db, "LET")
    department.teams_channel_id = "19:nowhere@thread.tacv2"
    db.add(department)
    db.commit()
    result = run_check(tmp_path, database_url, **graph_env(fake_graph))
    assert result.exit_code == 1
    assert "ok      crisis channel" in result.output
    assert "channel of department LET" in result.output
    assert "not found (404)" in result.output


def test_check_says_graph_is_unreachable(tmp_path: Path, database_url: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_check(
        tmp_path,
        database_url,
        HUB_TEAMS_GRAPH_URL=f"http://127.0.0.1:{port}/v1.0",
        HUB_TEAMS_STATIC_TOKEN="t",
        HUB_TEAMS_TEAM_ID=TEAM,
        HUB_TEAMS_CHANNEL_ID=CHANNEL,
    )
    assert result.exit_code == 1
    assert "Microsoft Graph unreachable" in result.output


def test_webhook_posts_an_adaptive_card_with_the_message_and_link(
    db: Session, engine: Engine, make_settings: Any, database_url: str, fake_graph: FakeGraph
) -> None:
    settings = make_settings(
        database_url=database_url,
        teams_webhook_url=f"http://127.0.0.1:{fake_graph.port}/webhook",
        base_url="https://hub.college.example",
    )
    assert settings.teams_mode == "webhook"
    message = outbox.enqueue_teams(
        db,
        recipient=outbox.TEAMS_CRISIS,
        subject="Escalade : question urgente",
        html="<p>Le référent de <b>SCI</b> a besoin d'aide</p>",
        text="Le référent de SCI a besoin d'aide",
        kind="question.escalated",
        link="/questions/7",
    )
    assert message is not None
    db.commit()
    transport = TeamsTransport(settings)
    try:
        report = outbox.deliver_due(engine, {Channel.teams: transport})
    finally:
        transport.close()
    assert report.sent == 1, report.errors
    [payload] = fake_graph.webhook_posts
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    text = card["body"][0]["text"]
    assert "**Escalade : question urgente**" in text
    assert "Le référent de **SCI** a besoin d'aide" in text
    assert f"réf. {message.reference}" in text
    assert card["actions"][0]["url"] == "https://hub.college.example/questions/7"


def test_meeting_event_is_idempotent_by_transaction_id(
    teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    from hub.models import utcnow

    gateway = gateway_for(teams_settings)
    start = utcnow().replace(microsecond=0) + timedelta(days=1)
    try:
        first = gateway.create_online_meeting_event(
            subject="Webinaire", start=start, end=start + timedelta(hours=1), transaction_id="tx-1"
        )
        again = gateway.create_online_meeting_event(
            subject="Webinaire", start=start, end=start + timedelta(hours=1), transaction_id="tx-1"
        )
    finally:
        gateway.close()
    assert first == again
    assert first.join_url and first.join_url.startswith("https://teams.microsoft.com/")
    [event] = fake_graph.events
    assert event["isOnlineMeeting"] is True
    assert event["onlineMeetingProvider"] == "teamsForBusiness"
    assert event["transactionId"] == "tx-1"


def test_create_teams_meeting_button_stores_the_link_once(
    db: Session, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    from tests.webinars.helpers import make_webinar
    from webinars.models import WebinarSession

    webinar = make_webinar(db)
    staff = db.exec(select(__import__("hub.models").models.User)).first()
    assert staff is not None and staff.role is Role.elearning
    teacher = make_user(db, Role.teacher)
    with TestClient(create_app(teams_settings), follow_redirects=False) as client:
        sign_in(client, teacher)
        page = f"/webinars/{webinar.id}"
        refused = post_form(client, f"/teams/webinars/{webinar.id}/meeting", {}, page)
        assert refused.status_code == 403
        client.cookies.clear()
        sign_in(client, staff)
        for _ in range(2):  # a double click: one event, one link
            response = post_form(client, f"/teams/webinars/{webinar.id}/meeting", {}, page)
            assert response.status_code == 303
    assert len(fake_graph.events) == 1
    db.expire_all()
    stored = db.get(WebinarSession, webinar.id)
    assert stored is not None
    assert stored.join_url == fake_graph.events[0]["onlineMeeting"]["joinUrl"]


def test_token_cache_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "teams-token-cache.json"
    path.parent.mkdir()
    path.write_text("old")
    os.chmod(path, 0o644)
    write_private_file(path, '{"AccessToken": {}}')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == '{"AccessToken": {}}'


@pytest.mark.parametrize("value", ["", "   "])
def test_department_channel_cli_clears_the_channel(
    value: str, db: Session, database_url: str, tmp_path: Path
) -> None:
    from hub.models import Department
    from tests.factories import make_department

    department = make_department(db, "ART")
    department.teams_channel_id = "19:art@thread.tacv2"
    db.add(department)
    db.commit()
    result = CliRunner().invoke(
        main,
        ["teams", "channel", "--department", "ART", "--channel-id", value],
        env={"HUB_DATABASE_URL": database_url, "HUB_ENV": "test"},
    )
    assert result.exit_code == 0, result.output
    assert "ART: crisis channel" in result.output
    db.expire_all()
    stored = db.exec(select(Department).where(Department.code == "ART")).one()
    assert stored.teams_channel_id is None
    assert not db.exec(select(OutboxMessage)).all()
