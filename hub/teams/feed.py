"""The crisis channel's recent messages, for the home page.

Read from Graph (ChannelMessage.Read.All) at most every `HUB_TEAMS_FEED_REFRESH_SECONDS`
by the worker's job (or, when the cache is stale and no worker refreshed it, by a background
thread of a web process), on demand by the e-learning team, and kept in the `teams_feed`
table so every web worker serves the same copy without calling Graph. Message HTML is
sanitised with nh3 when stored (Teams HTML is someone else's input: a `<script>` or an
`onerror` never reaches a page). The home page loads the panel with htmx, so it never waits.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import nh3
from markupsafe import Markup
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from hub.db import session_scope
from hub.models import utcnow
from hub.settings import Settings
from hub.teams.channels import crisis_channel, gateway_for
from hub.teams.gateway import ChannelRef, NotSupported, TeamsError, TeamsGateway
from hub.teams.models import TeamsFeed

log = logging.getLogger(__name__)
FEED_SIZE = 8
CLAIM = timedelta(minutes=2)  # a refresher that has not finished by then is presumed dead

ALLOWED_TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def sanitize(html: str) -> str:
    """Teams message HTML made safe to show (no scripts, handlers, styles, images, iframes)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        clean_content_tags={"script", "style"},
    )


@dataclass
class FeedItem:
    id: str
    html: Markup
    author: str
    created_at: datetime | None
    web_url: str | None


@dataclass
class Feed:
    items: list[FeedItem]
    channel_name: str
    channel_url: str | None
    fetched_at: datetime | None
    error: str | None


def channel_key(channel: ChannelRef) -> str:
    return str(channel)[:300]


def cached_feed(session: Session, settings: Settings) -> Feed | None:
    """What the home page shows (None: never read yet)."""
    row = session.get(TeamsFeed, channel_key(crisis_channel(settings)))
    if row is None:
        return None
    items = []
    for item in json.loads(row.items_json or "[]"):
        created = item.get("created_at")
        items.append(
            FeedItem(
                id=item["id"],
                html=Markup(item["html"]),  # noqa: S704 (sanitised when stored)
                author=item.get("author") or "",
                created_at=datetime.fromisoformat(created) if created else None,
                web_url=item.get("web_url"),
            )
        )
    return Feed(items, row.channel_name, row.channel_url, row.fetched_at, row.error)


def is_stale(feed: Feed | None, settings: Settings, now: datetime | None = None) -> bool:
    if feed is None or feed.fetched_at is None:
        return True
    now = now or utcnow()
    return feed.fetched_at < now - timedelta(seconds=settings.teams_feed_refresh_seconds)


def _claim(engine: Engine, key: str, now: datetime, stale_before: datetime | None) -> bool:
    """Take the right to refresh this channel (one process at a time)."""
    with session_scope(engine) as session:
        if session.get(TeamsFeed, key) is None:
            try:
                with session.begin_nested():
                    session.add(TeamsFeed(channel_key=key, refresh_claimed_until=now + CLAIM))
                return True
            except IntegrityError:  # another process created it at the same moment
                return False
        conditions = [
            col(TeamsFeed.channel_key) == key,
            or_(
                col(TeamsFeed.refresh_claimed_until).is_(None),
                col(TeamsFeed.refresh_claimed_until) < now,
            ),
        ]
        if stale_before is not None:
            conditions.append(
                or_(col(TeamsFeed.fetched_at).is_(None), col(TeamsFeed.fetched_at) < stale_before)
            )
        result = session.execute(
            update(TeamsFeed).where(*conditions).values(refresh_claimed_until=now + CLAIM)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def refresh(
    engine: Engine,
    settings: Settings,
    *,
    gateway: TeamsGateway | None = None,
    force: bool = False,
    now: datetime | None = None,
    limit: int = FEED_SIZE,
) -> bool:
    """Read the crisis channel into the cache if it is stale (or `force`); False if another
    process is refreshing it, it is fresh, or Teams cannot be read."""
    if not settings.teams_mode:
        return False
    now = now or utcnow()
    channel = crisis_channel(settings)
    key = channel_key(channel)
    stale_before = None if force else now - timedelta(seconds=settings.teams_feed_refresh_seconds)
    claimed = _claim(engine, key, now, stale_before)
    deadline = time.monotonic() + settings.teams_timeout_seconds + 2
    while force and not claimed and time.monotonic() < deadline:
        time.sleep(0.2)  # another process is reading the channel: wait for its result
        with session_scope(engine, write=False) as session:
            row = session.get(TeamsFeed, key)
            if row is not None and row.refresh_claimed_until is None:
                return row.error is None
    if not claimed:
        return False
    own_gateway = gateway is None
    values: dict[str, Any] = {"fetched_at": now, "refresh_claimed_until": None}
    try:
        gateway = gateway or gateway_for(settings)
        if not gateway.can_read:
            raise NotSupported("posting only (Workflows webhook): the channel cannot be read")
        info = gateway.channel_info(channel)
        messages = gateway.recent_messages(channel, limit)
        values.update(
            channel_name=info.name[:300],
            channel_url=(info.web_url or "")[:1000] or None,
            error=None,
            items_json=json.dumps(
                [
                    {
                        "id": message.id,
                        "html": sanitize(message.html),
                        "author": message.author,
                        "created_at": message.created_at.isoformat()
                        if message.created_at
                        else None,
                        "web_url": message.web_url
                        if (message.web_url or "").startswith("https://")
                        else None,
                    }
                    for message in messages
                ]
            ),
        )
    except TeamsError as exc:
        log.warning("Teams feed: %s", exc)
        values["error"] = str(exc)[:1000]
    except Exception as exc:  # never let the feed break a page or the scheduler
        log.exception("Teams feed refresh failed")
        values["error"] = f"{type(exc).__name__}: {exc}"[:1000]
    finally:
        if own_gateway and gateway is not None:
            gateway.close()
    with session_scope(engine) as session:
        session.execute(update(TeamsFeed).where(col(TeamsFeed.channel_key) == key).values(**values))
    return values.get("error") is None


_background: dict[str, threading.Thread] = {}
_background_lock = threading.Lock()


def refresh_in_background(engine: Engine, settings: Settings) -> None:
    """Start one refresh thread per process and database (the page does not wait for it)."""
    key = str(engine.url)
    with _background_lock:
        running = _background.get(key)
        if running is not None and running.is_alive():
            return
        thread = threading.Thread(
            target=refresh, args=(engine, settings), name="teams-feed", daemon=True
        )
        _background[key] = thread
        thread.start()


def refresh_job(engine: Engine, settings: Settings) -> None:
    """The scheduler's job (a no-op when Teams is not configured or cannot be read)."""
    if settings.teams_mode == "graph":
        refresh(engine, settings)
