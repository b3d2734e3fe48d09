"""Teams meetings for webinar sessions: a calendar event of the service account with
`isOnlineMeeting=true`, created through Graph with a `transactionId` derived from the
session's stable UID, so asking twice (a double click, a retry after a lost answer) gives
the same event and the same joining link. The link is then stored with webinars'
`set_join_url` (which sends the updated invite to registrants)."""

from __future__ import annotations

import html as html_module
from datetime import timedelta

from sqlalchemy.engine import Engine

from hub.db import session_scope
from hub.errors import Conflict, HubError
from hub.models import User
from hub.settings import Settings
from hub.teams.channels import gateway_for
from hub.teams.gateway import OnlineMeeting, TeamsError, TeamsGateway


class MeetingUnavailable(HubError):
    status_code = 502


def transaction_id_for(uid: str) -> str:
    return f"hub-webinar-{uid}"[:200]


def create_meeting(
    engine: Engine,
    settings: Settings,
    webinar_id: int,
    *,
    actor: User,
    gateway: TeamsGateway | None = None,
) -> str:
    """Create (or find again) the Teams meeting of a webinar session and store its link.

    Three short transactions: read (host check), Graph call outside any transaction (so a
    slow Graph never holds the SQLite write lock), then store the link."""
    from webinars.sessions import get_session, require_host, set_join_url

    with session_scope(engine, write=False) as session:
        require_host(session, actor, webinar_id)  # who may, before what is configured
        if settings.teams_mode != "graph":
            raise Conflict("Teams n'est pas configuré pour créer des réunions (connexion Graph).")
        webinar = get_session(session, webinar_id)
        subject, uid = webinar.title, webinar.uid
        start = webinar.starts_at
        end = start + timedelta(minutes=webinar.duration_minutes)
    link = f"{settings.base_url}/webinars/{webinar_id}" if settings.base_url else ""
    body = f'<p><a href="{html_module.escape(link)}">{html_module.escape(link)}</a></p>'
    own = gateway is None
    gateway = gateway or gateway_for(settings)
    try:
        meeting: OnlineMeeting = gateway.create_online_meeting_event(
            subject=subject,
            start=start,
            end=end,
            transaction_id=transaction_id_for(uid),
            body_html=body if link else "",
        )
    except TeamsError as exc:
        raise MeetingUnavailable(f"Teams n'a pas pu créer la réunion : {exc}") from exc
    finally:
        if own:
            gateway.close()
    if not meeting.join_url:
        raise MeetingUnavailable("Teams a créé l'événement sans lien de réunion.")
    with session_scope(engine) as session:
        set_join_url(session, webinar_id, meeting.join_url, actor=actor, settings=settings)
    return meeting.join_url
