"""ASGI middleware: request body limit, NUL characters refused, CSRF check on unsafe
methods, security headers."""

from __future__ import annotations

import hmac
import json
from html import escape
from urllib.parse import parse_qs, unquote_to_bytes

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.i18n import N_, pick_locale, translations

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


TOO_LARGE = N_("Requête trop volumineuse.")
CSRF_FAILED = N_("Jeton de sécurité (CSRF) absent ou expiré : rechargez la page et recommencez.")
NUL_REFUSED = N_("La requête contient un caractère nul (NUL) : retirez-le et recommencez.")


def _has_nul(encoded: bytes) -> bool:
    """Whether URL-encoded text (a path, a query string, a urlencoded body) holds NUL, raw
    or percent-encoded. No person types one; PostgreSQL refuses it in text (a 500), SQLite
    stores it: refused at the door, one rule for every route."""
    return b"\x00" in encoded or b"\x00" in unquote_to_bytes(encoded)


async def _send_error(scope: Scope, send: Send, status: int, detail: str) -> None:
    """A small error answer from middleware: JSON for API/htmx callers, plain HTML otherwise,
    in the visitor's language (the session's choice; no database read here)."""
    locale = pick_locale((scope.get("session") or {}).get("lang"))
    _ = translations(locale).gettext
    detail = _(detail)
    headers = Headers(scope=scope)
    wants_json = scope["path"].startswith("/api/") or "application/json" in headers.get(
        "accept", ""
    )
    if wants_json:
        body = json.dumps({"detail": detail}).encode()
        content_type = b"application/json"
    else:
        body = (
            f'<!doctype html><html lang="{locale}"><meta charset="utf-8">'
            f"<title>{escape(_('Erreur'))}</title>"
            '<link rel="icon" href="data:,">'
            '<link rel="stylesheet" href="/static/vendor/pico/pico.min.css">'
            f'<main class="container"><h1>{status}</h1><p>{escape(detail)}</p>'
            f'<p><a href="/">{escape(_("Accueil"))}</a></p></main>'
        ).encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


class RequestGuardMiddleware:
    """Reject oversized bodies (413) and unsafe requests without a valid CSRF token (403).

    Requests authenticated by `Authorization: Bearer` are exempt from CSRF: a browser never
    attaches that header cross-site, and such requests ignore the session cookie entirely.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or _has_nul(scope.get("query_string", b"")):
            await _send_error(scope, send, 422, NUL_REFUSED)
            return
        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if (
            declared
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > self.max_body_bytes
        ):
            await _send_error(scope, send, 413, TOO_LARGE)
            return
        try:
            body = await self._read_body(receive)
        except BodyTooLarge:
            await _send_error(scope, send, 413, TOO_LARGE)
            return

        if await _form_has_nul(scope, headers, body):
            await _send_error(scope, send, 422, NUL_REFUSED)
            return

        if not headers.get("authorization", "").lower().startswith("bearer "):
            expected = scope.get("session", {}).get("csrf")
            provided = headers.get(CSRF_HEADER) or await _form_token(scope, headers, body)
            if not (
                isinstance(expected, str)
                and provided
                and hmac.compare_digest(expected.encode(), provided.encode())
            ):
                await _send_error(scope, send, 403, CSRF_FAILED)
                return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replayed(scope: Scope, body: bytes) -> Request:
    """A request reading `body` (already received) once."""
    sent = False

    async def once() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, once)


async def _form_has_nul(scope: Scope, headers: Headers, body: bytes) -> bool:
    """NUL in a form's text: anywhere in a urlencoded body; in a multipart body, in the
    text fields only (an uploaded file may hold any byte)."""
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _has_nul(body)
    if content_type.startswith("multipart/form-data") and b"\x00" in body:
        try:
            form = await _replayed(scope, body).form()
        except Exception:  # malformed: the route's own parsing answers it
            return False
        try:
            return any(isinstance(v, str) and "\x00" in v for _, v in form.multi_items())
        finally:
            await form.close()
    return False


async def _form_token(scope: Scope, headers: Headers, body: bytes) -> str | None:
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD)
        return values[0] if values else None
    if content_type.startswith("multipart/form-data"):
        try:
            form = await _replayed(scope, body).form()
        except Exception:  # a malformed multipart body simply has no token
            return None
        try:
            value = form.get(CSRF_FIELD)
            return value if isinstance(value, str) else None
        finally:
            await form.close()
    return None


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_wrapper)
