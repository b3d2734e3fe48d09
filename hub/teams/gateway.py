"""The `TeamsGateway` interface: what the hub asks of Microsoft Teams, and the errors it gets.

Two implementations: `graph.GraphGateway` (msgraph-sdk, a delegated service account: posts,
reads, meetings) and `webhook.WebhookGateway` (a Teams Workflows webhook: posts only).
Graph allows no app-only channel posting (that permission exists only for migrations),
hence the delegated account signed in once with `hub teams login`.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True)
class ChannelRef:
    team_id: str
    channel_id: str

    def __str__(self) -> str:
        return f"{self.team_id}/{self.channel_id}"


@dataclass(frozen=True)
class PostedMessage:
    id: str | None
    web_url: str | None = None


@dataclass(frozen=True)
class ChannelMessage:
    """A message read from a channel; `html` is Teams' raw HTML, NOT yet sanitised."""

    id: str
    html: str
    author: str
    created_at: datetime | None
    web_url: str | None
    subject: str | None = None


@dataclass(frozen=True)
class ChannelInfo:
    id: str
    name: str
    web_url: str | None


@dataclass(frozen=True)
class OnlineMeeting:
    event_id: str
    join_url: str | None
    web_link: str | None


class TeamsError(Exception):
    """Teams answered with an error, or could not be reached.

    `status`: the HTTP status (None when the service was unreachable or the answer was lost);
    `retry_after`: seconds, from a 429/503 Retry-After header; `ambiguous`: the request may
    have been processed (connection lost after sending), so check before sending again."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.ambiguous = ambiguous
        self.code = code


class NotSignedIn(TeamsError):
    """No usable token: nobody ran `hub teams login`, or the sign-in expired."""


class NotSupported(TeamsError):
    """The gateway cannot do this (a Workflows webhook cannot read a channel)."""


class TeamsGateway(Protocol):
    """What the hub needs from Teams. Methods are synchronous (the worker and the web
    routes call them from threads) and raise TeamsError."""

    can_read: bool

    def post_message(self, channel: ChannelRef, html: str) -> PostedMessage: ...

    def find_message_with_reference(
        self, channel: ChannelRef, reference: str, *, since: datetime | None = None
    ) -> PostedMessage | None:
        """A message of the channel whose text contains `reference` (the landed check)."""
        ...

    def recent_messages(self, channel: ChannelRef, limit: int = 20) -> list[ChannelMessage]: ...

    def channel_info(self, channel: ChannelRef) -> ChannelInfo: ...

    def signed_in_as(self) -> str:
        """Who the token belongs to (the check); raises NotSignedIn or TeamsError."""
        ...

    def create_online_meeting_event(
        self,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        transaction_id: str,
        body_html: str = "",
    ) -> OnlineMeeting:
        """A calendar event with a Teams meeting; the same `transaction_id` gives the same
        event (Graph's idempotency key for event creation)."""
        ...

    def close(self) -> None: ...


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
