"""The outbox transport for Teams posts (`Channel.teams`, wired in hub/transports.py).

For each outbox row: find the channel (crisis, or the department's own channel falling back
to the crisis one), compose the HTML (subject, body, link back to the hub, and the row's
`reference` as a visible "réf." marker), and post it through the gateway.

- Pacing: at most 4 posts a second per channel (Teams throttles channel posts hard).
- 429 -> TemporaryFailure(retry_after from Retry-After); 5xx and lost connections ->
  TemporaryFailure (backoff); 401 / no sign-in -> TemporaryFailure (someone must run
  `hub teams login`; the row waits); 403, 404 and other 4xx -> PermanentFailure with a
  plain-words reason, shown on the outbox page.
- A row whose previous attempt may have landed (`reclaimed`: a retry, or a sender that died
  mid-delivery) is first looked for in the channel by its reference; if found it is not
  posted again. If the check itself fails, nothing is posted (retried later).
"""

from __future__ import annotations

import html as html_module
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.engine import Engine

from hub.outbox import Channel, OutboxMessage, PermanentFailure, TemporaryFailure
from hub.settings import Settings
from hub.teams.channels import configured, crisis_channel, department_channel, gateway_for
from hub.teams.gateway import ChannelRef, NotSignedIn, NotSupported, TeamsError, TeamsGateway

POSTS_PER_SECOND = 4.0
DEFAULT_RETRY_AFTER = 60.0  # a 429 without Retry-After


class Pacer:
    """At most `rate` posts a second per channel, across every transport of the process."""

    def __init__(
        self,
        rate: float = POSTS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            at = max(now, self._next.get(key, now))
            self._next[key] = at + self.interval
        if at > now:
            self.sleep(at - now)


pacer = Pacer()


def absolute_link(link: str, settings: Settings) -> str:
    if link.startswith(("http://", "https://")):
        return link
    if link.startswith("/") and settings.base_url:
        return settings.base_url + link
    return ""


def compose_html(message: OutboxMessage, settings: Settings) -> str:
    """The post: subject, the (already safe) body, a link to the hub, the reference marker."""
    parts = [f"<p><strong>{html_module.escape(message.subject)}</strong></p>"]
    parts.append(message.body_html or f"<p>{html_module.escape(message.body_text)}</p>")
    link = absolute_link(message.link, settings)
    if link:
        parts.append(
            f'<p><a href="{html_module.escape(link, quote=True)}">Ouvrir dans le hub</a></p>'
        )
    parts.append(f"<p><em>réf. {message.reference}</em></p>")
    return "\n".join(parts)


def as_delivery_failure(exc: TeamsError, channel: ChannelRef) -> Exception:
    """A gateway error in the outbox's terms, with a reason a person can act on."""
    status = exc.status
    if isinstance(exc, NotSignedIn):
        return TemporaryFailure(f"Teams sign-in missing or expired: {exc}")
    if status == 429:
        return TemporaryFailure(
            "Teams is throttling posts (429); waiting as asked",
            retry_after=exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER,
        )
    if status is None:
        return TemporaryFailure(str(exc))
    if status >= 500:
        return TemporaryFailure(f"Teams is unavailable ({status}): {exc}", exc.retry_after)
    if status == 401:
        return TemporaryFailure(
            "Teams refused the token (401): the sign-in expired or was revoked; "
            "run `hub teams login`"
        )
    if status == 403:
        return PermanentFailure(
            f"Teams refused the post (403) in channel {channel}: the service account is not "
            "a member of this team or channel, or the app lacks the delegated permission "
            f"ChannelMessage.Send. Fix it, then retry the message. ({exc})"
        )
    if status == 404:
        return PermanentFailure(
            f"Teams channel not found (404): {channel}. Check HUB_TEAMS_TEAM_ID / "
            f"HUB_TEAMS_CHANNEL_ID or the department's channel, then retry. ({exc})"
        )
    return PermanentFailure(f"Teams refused the post ({status}): {exc}")


class TeamsTransport:
    channel = Channel.teams

    def __init__(
        self,
        settings: Settings,
        *,
        gateway: TeamsGateway | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self._gateway = gateway
        self._owns_gateway = gateway is None
        self._engine = engine
        self._owns_engine = engine is None
        self._departments: dict[int, ChannelRef] = {}

    @property
    def gateway(self) -> TeamsGateway:
        if self._gateway is None:
            try:
                self._gateway = gateway_for(self.settings)
            except Exception as exc:  # e.g. msgraph-sdk missing: keep the rows, say why
                raise TemporaryFailure(f"Teams gateway unavailable: {exc}") from exc
        return self._gateway

    def resolve(self, recipient: str) -> ChannelRef:
        if not recipient.startswith("department:"):
            return crisis_channel(self.settings)
        department_id = int(recipient.partition(":")[2])
        if department_id not in self._departments:
            from hub.db import make_engine, session_scope
            from hub.models import Department

            if self._engine is None:
                self._engine = make_engine(self.settings.effective_database_url)
            with session_scope(self._engine, write=False) as session:
                department = session.get(Department, department_id)
                self._departments[department_id] = department_channel(department, self.settings)
        return self._departments[department_id]

    def send(self, message: OutboxMessage, *, reclaimed: bool) -> str | None:
        channel = self.resolve(message.recipient)
        gateway = self.gateway
        if reclaimed and gateway.can_read:
            try:
                landed = gateway.find_message_with_reference(
                    channel, message.reference, since=message.created_at - timedelta(minutes=1)
                )
            except NotSupported:
                landed = None
            except TeamsError as exc:
                raise as_delivery_failure(exc, channel) from exc
            if landed is not None:
                return landed.id or "landed"
        pacer.wait(str(channel))
        try:
            posted = gateway.post_message(channel, compose_html(message, self.settings))
        except TeamsError as exc:
            raise as_delivery_failure(exc, channel) from exc
        return posted.id

    def close(self) -> None:
        if self._gateway is not None and self._owns_gateway:
            self._gateway.close()
            self._gateway = None
        if self._engine is not None and self._owns_engine:
            self._engine.dispose()
            self._engine = None


def teams_transport(settings: Settings) -> TeamsTransport | None:
    """The Teams channel's transport (hub/transports.py); None when Teams is not set up."""
    return TeamsTransport(settings) if configured(settings) else None
