"""A small fake Microsoft Graph on 127.0.0.1, for driving the real msgraph-sdk in tests.

Implements what the hub calls: channel messages (post, list with paging), a channel, /me,
/me/events (idempotent by transactionId), and a Workflows webhook endpoint. It can be told
to answer the next requests with 429 + Retry-After, 503, 403, or to store a post and then
drop the connection without answering ("land then drop").
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PREFIX = "/v1.0"


@dataclass
class Channel:
    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first


@dataclass
class FakeGraph:
    token: str = "test-token"
    user: str = "service@college.example"
    teams: dict[str, dict[str, Channel]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    webhook_posts: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # Scripted answers for the next matching requests: ("POST", "messages") -> deque of
    # behaviours: "429:<seconds>", "503", "403", "404", "land-then-drop".
    script: dict[tuple[str, str], deque[str]] = field(default_factory=dict)
    forbidden_reads: bool = False  # GET messages -> 403 (no ChannelMessage.Read.All)
    forbidden_channels: bool = False  # GET channel -> 403
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 1_700_000_000_000

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    def add_channel(self, team: str, channel: str, name: str = "Crise") -> Channel:
        created = Channel(name)
        self.teams.setdefault(team, {})[channel] = created
        return created

    def channel(self, team: str, channel: str) -> Channel:
        return self.teams[team][channel]

    def then(self, method: str, kind: str, *behaviours: str) -> None:
        self.script.setdefault((method, kind), deque()).extend(behaviours)

    def land(
        self,
        team: str,
        channel: str,
        html: str,
        *,
        author: str = "Service",
        content_type: str = "html",
        message_type: str = "message",
    ) -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            message_id = str(self._counter)
        message = {
            "id": message_id,
            "messageType": message_type,
            "createdDateTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "deletedDateTime": None,
            "body": {"contentType": content_type, "content": html},
            "from": {"user": {"id": "u1", "displayName": author}},
            "webUrl": f"https://teams.microsoft.com/l/message/{channel}/{message_id}",
        }
        self.channel(team, channel).messages.append(message)
        return message

    def posted(self, team: str, channel: str) -> list[dict[str, Any]]:
        return self.channel(team, channel).messages


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def graph(self) -> FakeGraph:
        return self.server.graph

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _scripted(self, method: str, kind: str) -> str | None:
        queue = self.graph.script.get((method, kind))
        with self.graph._lock:
            return queue.popleft() if queue else None

    def _apply(self, behaviour: str | None) -> bool:
        """Answer with a scripted failure; True if the request is done."""
        if behaviour is None or behaviour == "land-then-drop":
            return False
        if behaviour.startswith("429"):
            seconds = behaviour.partition(":")[2] or "1"
            self._send(429, _error("TooManyRequests", "throttled"), {"Retry-After": seconds})
        elif behaviour == "503":
            self._send(503, _error("ServiceNotAvailable", "try later"))
        elif behaviour == "403":
            self._send(403, _error("Forbidden", "Missing scope permissions on the request."))
        elif behaviour == "404":
            self._send(404, _error("NotFound", "not found"))
        return True

    def _route(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        self.graph.requests.append((method, path))
        body = self._body() if method == "POST" else None
        if path == "/webhook" and method == "POST":
            if self._apply(self._scripted("POST", "webhook")):
                return
            self.graph.webhook_posts.append(body)
            self._send(202)
            return
        if not path.startswith(PREFIX):
            self._send(404, _error("NotFound", "bad prefix"))
            return
        if self.headers.get("Authorization") != f"Bearer {self.graph.token}":
            self._send(401, _error("InvalidAuthenticationToken", "Access token has expired."))
            return
        segments = path[len(PREFIX) :].strip("/").split("/")
        query = parse_qs(parts.query)
        if segments == ["me"] and method == "GET":
            self._send(200, {"id": "u1", "userPrincipalName": self.graph.user})
            return
        if segments == ["me", "events"] and method == "POST":
            self._create_event(body)
            return
        if len(segments) >= 4 and segments[0] == "teams" and segments[2] == "channels":
            team, channel_id = segments[1], segments[3]
            channel = self.graph.teams.get(team, {}).get(channel_id)
            if channel is None:
                self._send(404, _error("NotFound", "No team found with Group Id"))
                return
            if len(segments) == 4 and method == "GET":
                if self.graph.forbidden_channels:
                    self._send(403, _error("Forbidden", "not a member"))
                    return
                self._send(
                    200,
                    {
                        "id": channel_id,
                        "displayName": channel.name,
                        "webUrl": f"https://teams.microsoft.com/l/channel/{channel_id}/x",
                    },
                )
                return
            if len(segments) == 5 and segments[4] == "messages":
                if method == "POST":
                    self._post_message(team, channel_id, body)
                    return
                if self.graph.forbidden_reads:
                    self._send(403, _error("Forbidden", "Missing role permissions"))
                    return
                if self._apply(self._scripted("GET", "messages")):
                    return
                self._list_messages(channel, query, path)
                return
        self._send(404, _error("NotFound", f"no route {method} {path}"))

    def _post_message(self, team: str, channel: str, body: Any) -> None:
        behaviour = self._scripted("POST", "messages")
        if self._apply(behaviour):
            return
        content = body["body"]["content"]
        message = self.graph.land(team, channel, content)
        if behaviour == "land-then-drop":
            self.close_connection = True
            self.connection.close()
            return
        self._send(201, message)

    def _list_messages(self, channel: Channel, query: dict[str, list[str]], path: str) -> None:
        top = int(query.get("$top", ["20"])[0])
        skip = int(query.get("$skiptoken", ["0"])[0])
        newest_first = list(reversed(channel.messages))
        page = newest_first[skip : skip + top]
        result: dict[str, Any] = {"value": page}
        if skip + top < len(newest_first):
            result["@odata.nextLink"] = (
                f"{self.graph.url}{path[len(PREFIX) :]}?$top={top}&$skiptoken={skip + top}"
            )
        self._send(200, result)

    def _create_event(self, body: Any) -> None:
        transaction = body.get("transactionId")
        for event in self.graph.events:
            if transaction and event["transactionId"] == transaction:
                self._send(201, event)
                return
        number = len(self.graph.events) + 1
        event = {
            **body,
            "id": f"event-{number}",
            "webLink": f"https://outlook.office365.com/owa/?itemid=event-{number}",
            "onlineMeeting": {"joinUrl": f"https://teams.microsoft.com/l/meetup-join/{number}"},
        }
        self.graph.events.append(event)
        self._send(201, event)

    def do_GET(self) -> None:  # noqa: N802
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    graph: FakeGraph


def start(graph: FakeGraph) -> _Server:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.graph = graph
    graph.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True, name="fake-graph").start()
    return server
