"""`WebhookGateway`: posting through a Teams Workflows webhook (post only, no reading).

For tenants that refuse delegated consent: a team owner creates, in Teams, the workflow
"Post to a channel when a webhook request is received" and gives the hub its URL
(`HUB_TEAMS_WEBHOOK_URL`). The workflow posts an Adaptive Card to the one channel chosen
when it was created, so department channels and the home page feed are not available in
this mode, and a re-send after an ambiguous failure cannot be checked (at-least-once).
The old Office 365 connector webhooks are retired: this is not one of them.
"""

from __future__ import annotations

import html as html_module
import re
from datetime import datetime
from typing import Any

import httpx
import nh3

from hub.settings import Settings
from hub.teams.gateway import (
    ChannelInfo,
    ChannelMessage,
    ChannelRef,
    NotSupported,
    OnlineMeeting,
    PostedMessage,
    TeamsError,
    retry_after_seconds,
)

_LINK = re.compile(r"<a\b[^>]*\bhref=\"([^\"]+)\"[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<br\s*/?>|</(p|div|li|h[1-6]|tr)>", re.IGNORECASE)
_BOLD = re.compile(r"</?(strong|b)>", re.IGNORECASE)


def html_to_card_text(html: str) -> str:
    """Teams HTML to the Markdown subset Adaptive Card text blocks understand."""
    text = _LINK.sub(lambda m: f"[{m.group(2)}]({m.group(1)})", html)
    text = _BOLD.sub("**", text)
    text = _BREAK.sub("\n\n", text)
    text = html_module.unescape(nh3.clean(text, tags=set()))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def card_payload(html: str, link: str | None = None) -> dict[str, Any]:
    """The body a Workflows "post to a channel" webhook expects: one Adaptive Card."""
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [{"type": "TextBlock", "text": html_to_card_text(html), "wrap": True}],
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Ouvrir dans le hub", "url": link}]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


_HREF = re.compile(r"href=\"([^\"]+)\"")


class WebhookGateway:
    can_read = False

    def __init__(self, settings: Settings) -> None:
        self.url = settings.teams_webhook_url
        self.http = httpx.Client(timeout=settings.teams_timeout_seconds, follow_redirects=False)

    def post_message(self, channel: ChannelRef, html: str) -> PostedMessage:
        links = _HREF.findall(html)
        try:
            response = self.http.post(
                self.url, json=card_payload(html, links[0] if links else None)
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TeamsError(f"Teams webhook unreachable: {exc}") from exc
        except httpx.TransportError as exc:
            raise TeamsError(f"connection to the webhook lost: {exc}", ambiguous=True) from exc
        if response.status_code >= 400:
            raise TeamsError(
                f"the webhook answered {response.status_code}: {response.text[:200]}",
                status=response.status_code,
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
            )
        return PostedMessage(None, None)

    def find_message_with_reference(
        self, channel: ChannelRef, reference: str, *, since: datetime | None = None
    ) -> PostedMessage | None:
        raise NotSupported("a Workflows webhook cannot read the channel")

    def recent_messages(self, channel: ChannelRef, limit: int = 20) -> list[ChannelMessage]:
        raise NotSupported("a Workflows webhook cannot read the channel")

    def channel_info(self, channel: ChannelRef) -> ChannelInfo:
        raise NotSupported("a Workflows webhook cannot read the channel")

    def signed_in_as(self) -> str:
        return "Workflows webhook"

    def create_online_meeting_event(
        self,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        transaction_id: str,
        body_html: str = "",
    ) -> OnlineMeeting:
        raise NotSupported("Teams meetings need the Graph sign-in, not a webhook")

    def close(self) -> None:
        self.http.close()
