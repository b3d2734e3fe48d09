"""`GraphGateway`: the TeamsGateway on msgraph-sdk (Microsoft Graph), delegated service account.

This module imports msgraph-sdk (about 1,200 modules, a few seconds): only
`hub.teams.channels.gateway_for(settings)` imports it, and only when Teams is configured. Nothing
else in the hub may import it at module level.

The SDK is asynchronous; the hub calls Teams from worker threads, so each gateway runs its
own event loop. The request adapter gets a custom httpx client wrapped with
`GraphClientFactory.create_with_default_middleware` (without the wrapping the SDK's
middleware is skipped) with the **retry handler off**: it re-sends POSTs on 503, which
duplicates channel posts. The outbox retries instead (with Retry-After, backoff and a check
for a landed message). The base URL is `HUB_TEAMS_GRAPH_URL` (tests point it at a local fake
Graph server).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware.options import RetryHandlerOption
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.chat_message import ChatMessage
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.event import Event
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.online_meeting_provider_type import OnlineMeetingProviderType
from msgraph.generated.teams.item.channels.item.messages.messages_request_builder import (
    MessagesRequestBuilder,
)
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_request_adapter import options as graph_adapter_options
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import GraphClientFactory

from hub.settings import Settings
from hub.teams.gateway import (
    ChannelInfo,
    ChannelMessage,
    ChannelRef,
    NotSignedIn,
    OnlineMeeting,
    PostedMessage,
    TeamsError,
    retry_after_seconds,
)

# The generated SDK warns about its own deprecated request configuration classes each time
# one of its modules loads (lazily, on first use): not ours to act on.
warnings.filterwarnings(
    "ignore", category=DeprecationWarning, module=r"(msgraph\.generated|kiota_abstractions)\."
)

T = TypeVar("T")
PAGE_SIZE = 50  # Graph's maximum $top for channel messages
MAX_PAGES_SEARCHED = 4  # the landed check looks at most at the last 200 messages


class _TokenProvider(AccessTokenProvider):
    def __init__(self, source: Callable[[], str]) -> None:
        self.source = source

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return await asyncio.to_thread(self.source)

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])  # empty: the one configured Graph URL only is used


def _error_message(exc: APIError) -> tuple[str, str | None]:
    error = getattr(exc, "error", None)  # ODataError.error: MainError(code, message)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or exc.message or type(exc).__name__
    return str(message), code


class GraphGateway:
    can_read = True

    def __init__(self, settings: Settings, token: Callable[[], str] | None = None) -> None:
        from hub.teams.auth import token_source

        self.settings = settings
        self.graph_url = settings.teams_graph_url
        # The SDK is async; the hub calls it from plain threads (worker, thread pool). Its
        # private loop runs in one dedicated thread, so a caller that already has a running
        # loop (an async test, Playwright's sync API) can still use the gateway.
        self._loop = asyncio.new_event_loop()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-graph")
        http = httpx.AsyncClient(
            base_url=self.graph_url,
            timeout=httpx.Timeout(settings.teams_timeout_seconds),
            follow_redirects=False,
        )
        # The SDK's own options (the /me URL replacement, telemetry), plus retries off.
        options = {
            **graph_adapter_options,
            RetryHandlerOption.RETRY_HANDLER_OPTION_KEY: RetryHandlerOption(
                delay=0, max_retries=0, should_retry=False
            ),
        }
        self._http = GraphClientFactory.create_with_default_middleware(
            client=http,
            options=options,
        )
        provider = BaseBearerTokenAuthenticationProvider(
            _TokenProvider(token or token_source(settings))
        )
        adapter = GraphRequestAdapter(provider, client=self._http)
        adapter.base_url = self.graph_url
        self.client = GraphServiceClient(request_adapter=adapter)

    # --- plumbing -------------------------------------------------------------------------

    def _run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        try:
            return self._thread.submit(self._loop.run_until_complete, make()).result()
        except TeamsError:
            raise
        except APIError as exc:
            status = exc.response_status_code
            headers = exc.response_headers or {}
            message, code = _error_message(exc)
            raise TeamsError(
                f"Graph answered {status}: {message}",
                status=status,
                retry_after=retry_after_seconds(headers.get("retry-after")),
                code=code,
            ) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TeamsError(f"Graph unreachable at {self.graph_url}: {exc}") from exc
        except httpx.TransportError as exc:  # sent, but the answer was lost
            raise TeamsError(
                f"connection to Graph lost before its answer ({type(exc).__name__}: {exc})",
                ambiguous=True,
            ) from exc

    def _messages(self, channel: ChannelRef) -> MessagesRequestBuilder:
        return (
            self.client.teams.by_team_id(channel.team_id)
            .channels.by_channel_id(channel.channel_id)
            .messages
        )

    # --- the gateway ----------------------------------------------------------------------

    def post_message(self, channel: ChannelRef, html: str) -> PostedMessage:
        body = ChatMessage(body=ItemBody(content_type=BodyType.Html, content=html))
        posted = self._run(lambda: self._messages(channel).post(body))
        if posted is None:
            return PostedMessage(None, None)
        return PostedMessage(posted.id, posted.web_url)

    def _pages(self, channel: ChannelRef, page_size: int, pages: int) -> list[ChatMessage]:
        async def fetch() -> list[ChatMessage]:
            builder = self._messages(channel)
            config = RequestConfiguration(
                query_parameters=MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
                    top=page_size
                )
            )
            found: list[ChatMessage] = []
            response = await builder.get(request_configuration=config)
            for _ in range(pages):
                if response is None:
                    break
                found.extend(response.value or [])
                if not response.odata_next_link or len(found) >= page_size * pages:
                    break
                response = await builder.with_url(response.odata_next_link).get()
            return found

        return self._run(fetch)

    def find_message_with_reference(
        self, channel: ChannelRef, reference: str, *, since: datetime | None = None
    ) -> PostedMessage | None:
        for message in self._pages(channel, PAGE_SIZE, MAX_PAGES_SEARCHED):
            content = message.body.content if message.body else None
            if content and reference in content:
                return PostedMessage(message.id, message.web_url)
        return None

    def recent_messages(self, channel: ChannelRef, limit: int = 20) -> list[ChannelMessage]:
        found: list[ChannelMessage] = []
        for message in self._pages(channel, min(max(limit, 1), PAGE_SIZE), 1):
            kind = getattr(message.message_type, "value", message.message_type)
            if message.deleted_date_time is not None or (kind and kind != "message"):
                continue
            body = message.body
            content = (body.content if body else None) or ""
            content_type = getattr(body.content_type, "value", None) if body else None
            if content_type == "text":
                import html as html_module

                content = html_module.escape(content).replace("\n", "<br>")
            author = ""
            origin = message.from_
            if origin is not None:
                who = origin.user or origin.application
                author = (who.display_name if who else None) or ""
            found.append(
                ChannelMessage(
                    id=message.id or "",
                    html=content,
                    author=author,
                    created_at=message.created_date_time,
                    web_url=message.web_url,
                    subject=message.subject,
                )
            )
        found.sort(key=lambda m: m.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        return found[:limit]

    def channel_info(self, channel: ChannelRef) -> ChannelInfo:
        found = self._run(
            lambda: (
                self.client.teams.by_team_id(channel.team_id)
                .channels.by_channel_id(channel.channel_id)
                .get()
            )
        )
        if found is None:
            raise TeamsError("Graph returned no channel", status=404)
        return ChannelInfo(found.id or channel.channel_id, found.display_name or "", found.web_url)

    def signed_in_as(self) -> str:
        me = self._run(lambda: self.client.me.get())
        if me is None:
            raise NotSignedIn("Graph returned no account for the token")
        return str(me.user_principal_name or me.mail or me.display_name or me.id)

    def create_online_meeting_event(
        self,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        transaction_id: str,
        body_html: str = "",
    ) -> OnlineMeeting:
        def moment(value: datetime) -> DateTimeTimeZone:
            utc = value.astimezone(UTC).replace(tzinfo=None)
            return DateTimeTimeZone(date_time=utc.isoformat(timespec="seconds"), time_zone="UTC")

        event = Event(
            subject=subject,
            body=ItemBody(content_type=BodyType.Html, content=body_html),
            start=moment(start),
            end=moment(end),
            is_online_meeting=True,
            online_meeting_provider=OnlineMeetingProviderType.TeamsForBusiness,
            transaction_id=transaction_id,
        )
        created = self._run(lambda: self.client.me.events.post(event))
        if created is None or not created.id:
            raise TeamsError("Graph created no event", ambiguous=True)
        join_url = created.online_meeting.join_url if created.online_meeting else None
        return OnlineMeeting(created.id, join_url or created.online_meeting_url, created.web_link)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._thread.submit(self._loop.run_until_complete, self._http.aclose()).result()
        finally:
            self._thread.submit(self._loop.close).result()
            self._thread.shutdown()
