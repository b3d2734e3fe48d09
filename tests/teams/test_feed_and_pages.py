"""The crisis channel on the home page, department channels, kind words, msgraph laziness."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hub.app import create_app
from hub.models import Department, Role
from hub.outbox import Channel, OutboxMessage
from hub.settings import Settings
from hub.teams import feed
from tests import html
from tests.factories import make_department, make_user, post_form, sign_in
from tests.teams.conftest import CHANNEL, TEAM
from tests.teams.fake_graph import FakeGraph


def test_feed_renders_sanitised_messages_with_links(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    fake_graph.land(TEAM, CHANNEL, "<p>Bienvenue <b>à tous</b></p>", author="Claire")
    fake_graph.land(
        TEAM,
        CHANNEL,
        '<p>Piège<script>alert("x")</script><img src=x onerror="alert(1)">'
        '<a href="javascript:alert(2)">clic</a></p>',
        author="Inconnu",
    )
    fake_graph.land(TEAM, CHANNEL, "texte <brut>", content_type="text", author="Bot")
    fake_graph.land(TEAM, CHANNEL, "<p>membre ajouté</p>", message_type="systemEventMessage")
    assert feed.refresh(engine, teams_settings)
    make_department(db)
    teacher = make_user(db, Role.teacher)
    with TestClient(create_app(teams_settings), follow_redirects=False) as client:
        sign_in(client, teacher)
        home = client.get("/")
        assert html.select(home, "[hx-get='/teams/feed']")
        panel = client.get("/teams/feed", headers={"HX-Request": "true"})
    assert panel.status_code == 200
    shown = html.text(panel)
    assert "à tous" in html.texts(panel, "b") and "Claire" in shown
    # raw: sanitised, and escaped, in the markup itself
    raw = panel.text
    assert "<script" not in raw and "onerror" not in raw and "javascript:" not in raw
    assert "texte &lt;brut&gt;" in raw
    assert "membre ajouté" not in shown
    links = html.links(panel)
    # deep links to each message and to the channel
    assert any(link.startswith("https://teams.microsoft.com/l/message/") for link in links)
    assert any(link.startswith("https://teams.microsoft.com/l/channel/") for link in links)
    assert "Gestion de crise" in shown


def test_feed_is_cached_and_one_refresh_at_a_time(
    engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    fake_graph.land(TEAM, CHANNEL, "<p>un</p>")
    assert feed.refresh(engine, teams_settings)
    reads = len([r for r in fake_graph.requests if r[1].endswith("/messages")])
    assert not feed.refresh(engine, teams_settings)  # fresh: no Graph call
    assert len([r for r in fake_graph.requests if r[1].endswith("/messages")]) == reads
    assert feed.refresh(engine, teams_settings, force=True)  # on demand


def test_feed_keeps_previous_messages_when_graph_fails(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    fake_graph.land(TEAM, CHANNEL, "<p>avant la panne</p>")
    assert feed.refresh(engine, teams_settings)
    fake_graph.then("GET", "messages", "503")
    assert not feed.refresh(engine, teams_settings, force=True)
    cached = feed.cached_feed(db, teams_settings)
    assert cached is not None and cached.error
    assert "avant la panne" in cached.items[0].html


def test_elearning_refreshes_the_feed_on_demand(
    db: Session, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    staff = make_user(db, Role.elearning)
    fake_graph.land(TEAM, CHANNEL, "<p>tout frais</p>")
    with TestClient(create_app(teams_settings), follow_redirects=False) as client:
        sign_in(client, staff)
        response = post_form(client, "/teams/feed/refresh", {}, page="/teams")
        assert response.status_code == 303
        assert "tout frais" in html.text(client.get("/teams"), "main")


def test_home_without_teams_still_works_and_students_see_no_panel(
    db: Session, settings: Settings, client: TestClient
) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    student = make_user(db, Role.student, departments=("SCI",))
    sign_in(client, teacher)
    assert client.get("/").status_code == 200
    panel = client.get("/teams/feed", headers={"HX-Request": "true"})
    assert "n'est pas relié" in html.text(panel)
    client.post("/logout", data={})
    client.cookies.clear()
    sign_in(client, student)
    assert client.get("/teams/feed", headers={"HX-Request": "true"}).status_code == 204


def test_department_channel_is_set_by_the_elearning_team_only(
    db: Session, client: TestClient
) -> None:
    make_department(db, "SCI")
    referent = make_user(db, Role.referent, departments=("SCI",))
    staff = make_user(db, Role.elearning)
    sign_in(client, referent)
    page = client.get("/departments/SCI")
    assert html.select(page, "[name=teams_channel_id], form[action$='/teams-channel']") == []
    refused = post_form(
        client, "/departments/SCI/teams-channel", {"teams_channel_id": "19:x"}, "/departments/SCI"
    )
    assert refused.status_code == 403
    client.cookies.clear()
    sign_in(client, staff)
    bad = post_form(
        client, "/departments/SCI/teams-channel", {"teams_channel_id": "a b"}, "/departments/SCI"
    )
    assert bad.status_code == 422
    assert html.one(bad, "input[name=teams_channel_id]")["value"] == "a b"
    good = post_form(
        client,
        "/departments/SCI/teams-channel",
        {"teams_channel_id": "19:sci@thread.tacv2"},
        "/departments/SCI",
    )
    assert good.status_code == 303
    db.expire_all()
    department = db.exec(select(Department).where(Department.code == "SCI")).one()
    assert department.teams_channel_id == "19:sci@thread.tacv2"


def test_kind_words_are_moderated_and_mirrored_to_teams_when_asked(
    db: Session, teams_settings: Settings
) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher, name="Anne Prof")
    staff = make_user(db, Role.elearning)
    with TestClient(create_app(teams_settings), follow_redirects=False) as client:
        sign_in(client, teacher)
        empty = post_form(client, "/kind-words", {"body": "  "}, "/kind-words")
        assert empty.status_code == 422
        left = post_form(
            client,
            "/kind-words",
            {"body": "Courage à tous, <b>on tient bon</b> !", "share_on_teams": "true"},
            "/kind-words",
        )
        assert left.status_code == 303
        the_wall = "section:has(> h2:-soup-contains('Le mur'))"
        assert "on tient bon" not in html.text(client.get("/kind-words"), the_wall)
        assert post_form(client, "/kind-words/1/approve", {}, "/kind-words").status_code == 403
        client.cookies.clear()
        sign_in(client, staff)
        wall = client.get("/kind-words")
        assert "on tient bon" in html.text(wall, "article.kind-word.pending")
        approve = html.one(wall, "article.pending form[action$='/approve']")["action"]
        match = re.fullmatch(r"/kind-words/(\d+)/approve", str(approve))
        assert match is not None
        word_id = int(match.group(1))
        approved = post_form(
            client, f"/kind-words/{word_id}/approve", {"share_on_teams": "true"}, "/kind-words"
        )
        assert approved.status_code == 303
        wall = client.get("/kind-words")
        assert "&lt;b&gt;on tient bon&lt;/b&gt;" in wall.text  # raw: shown as text, escaped
        assert "<b>on tient bon</b>" in html.text(wall, the_wall)
        client.cookies.clear()
        sign_in(client, teacher)
        assert "on tient bon" in html.text(client.get("/"), ".kind-words")
    db.expire_all()
    [message] = db.exec(select(OutboxMessage).where(OutboxMessage.channel == Channel.teams)).all()
    assert message.kind == "kind_word.approved"
    assert "&lt;b&gt;on tient bon&lt;/b&gt;" in (message.body_html or "")


def test_serving_pages_does_not_import_msgraph(tmp_path: Path, sqlite_template: Any) -> None:
    """msgraph-sdk loads ~1,200 modules: the hub imports it only to talk to Teams."""
    import shutil

    database = tmp_path / "hub.sqlite3"
    shutil.copyfile(sqlite_template, database)
    script = textwrap.dedent(
        f"""
        import sys
        from fastapi.testclient import TestClient
        from hub.settings import load_settings
        from hub.app import create_app
        import hub.jobs, hub.cli
        settings = load_settings(_env_file=None, env="test", database_url="sqlite:///{database}",
            scheduler_in_web=False, teams_static_token="t", teams_team_id="a",
            teams_channel_id="b")
        with TestClient(create_app(settings)) as client:
            assert client.get("/").status_code == 200
            assert client.get("/teams/feed").status_code == 204
        loaded = [m for m in sys.modules if m.startswith(("msgraph", "kiota", "msal"))]
        assert not loaded, loaded[:5]
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
