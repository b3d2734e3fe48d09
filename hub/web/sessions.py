"""Signed-cookie sessions: HttpOnly, SameSite=Lax, Secure over HTTPS, rotated at sign-in.

The cookie holds only ids and tokens (user id, session version, CSRF token, language); it is
signed with HUB_SECRET_KEY and expires server-side after `session_max_age_seconds`.
"""

from __future__ import annotations

import json
import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "hub_session"


class SessionMiddleware:
    def __init__(self, app: ASGIApp, *, secret_key: str, max_age: int) -> None:
        self.app = app
        self.signer = TimestampSigner(secret_key, salt="hub.session")
        self.max_age = max_age

    def _load(self, raw: str | None) -> dict[str, Any]:
        if not raw:
            return {}
        try:
            payload = self.signer.unsign(raw.encode(), max_age=self.max_age)
            data = json.loads(urlsafe_b64decode(payload))
        except (BadSignature, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        raw = connection.cookies.get(COOKIE_NAME)
        session = self._load(raw)
        initial = json.dumps(session, sort_keys=True)
        scope["session"] = session
        secure = connection.url.scheme in ("https", "wss")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                current = scope["session"]
                changed = json.dumps(current, sort_keys=True) != initial
                headers = MutableHeaders(scope=message)
                flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
                cookie = None
                if current and changed:
                    payload = urlsafe_b64encode(json.dumps(current).encode())
                    value = self.signer.sign(payload).decode()
                    cookie = f"{COOKIE_NAME}={value}; Max-Age={self.max_age}{flags}"
                elif not current and raw:
                    cookie = f"{COOKIE_NAME}=; Max-Age=0{flags}"
                if cookie:
                    headers.append("Set-Cookie", cookie)
                    # A response carrying someone's session must never sit in a shared cache.
                    headers["Cache-Control"] = "private, no-cache"
            await send(message)

        await self.app(scope, receive, send_wrapper)


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, created on first use (so anonymous readers get no cookie)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def start_session(session: dict[str, Any], *, user_id: int, version: int) -> None:
    """Sign-in: drop everything from before (fixation defence) and issue a fresh CSRF token."""
    lang = session.get("lang")
    session.clear()
    session.update(uid=user_id, ver=version, csrf=secrets.token_urlsafe(32))
    if lang:
        session["lang"] = lang


def end_session(session: dict[str, Any]) -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
