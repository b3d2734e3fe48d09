"""A small but real OpenID Connect provider on 127.0.0.1, standing in for Microsoft Entra ID."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KEY_ID = "stub-key-1"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Authorization:
    """What the relying party asked for at /authorize, kept until its code is redeemed."""

    client_id: str
    redirect_uri: str
    state: str
    nonce: str | None
    claims: dict[str, Any]


@dataclass
class OIDCProvider:
    """Authorization-code flow with RS256 id_tokens; tests steer the next sign-in's outcome."""

    client_id: str
    client_secret: str
    email: str = "someone@college.example"  # who the next sign-in says the user is
    refusal: str | None = None  # set to answer /authorize with error=access_denied
    sign_with_rogue_key: bool = False  # sign id_tokens with a key absent from /jwks
    authorizations: list[Authorization] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = _new_key()
        self.rogue_key = _new_key()
        self.codes: dict[str, Authorization] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.provider = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OIDCProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    # --- endpoints ---------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "jwks_uri": self.url + "/jwks",
            "userinfo_endpoint": self.url + "/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {"error": "unauthorized_client"}
        redirect_uri, state = query["redirect_uri"], query.get("state", "")
        if self.refusal is not None:
            answer = {"error": "access_denied", "error_description": self.refusal, "state": state}
            return 302, {"Location": f"{redirect_uri}?{urlencode(answer)}"}
        claims = {"sub": "sub-" + self.email, "email": self.email, "name": self.email}
        grant = Authorization(self.client_id, redirect_uri, state, query.get("nonce"), claims)
        self.authorizations.append(grant)
        code = secrets.token_urlsafe(16)
        self.codes[code] = grant
        return 302, {"Location": f"{redirect_uri}?{urlencode({'code': code, 'state': state})}"}

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        method = "client_secret_post"
        if authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode()
            client_id, secret = (unquote_plus(part) for part in decoded.split(":", 1))
            method = "client_secret_basic"
        self.token_requests.append({**form, "auth_method": method})
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # one use only
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or grant.redirect_uri != form.get("redirect_uri")
        ):
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        id_claims = {"iss": self.url, "aud": self.client_id, "iat": now, "exp": now + 300}
        id_claims.update(grant.claims)
        if grant.nonce is not None:
            id_claims["nonce"] = grant.nonce
        key = self.rogue_key if self.sign_with_rogue_key else self.key
        id_token = jwt.encode(id_claims, key, algorithm="RS256", headers={"kid": KEY_ID})
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = grant.claims
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        claims = self.access_tokens.get(authorization.removeprefix("Bearer "))
        return (200, claims) if claims else (401, {"error": "invalid_token"})


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        provider: OIDCProvider = self.server.provider  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        authorization = self.headers.get("Authorization", "")
        routes = {
            "/.well-known/openid-configuration": lambda: (200, provider.metadata()),
            "/jwks": lambda: (200, provider.jwks()),
            "/authorize": lambda: provider.authorize(query),
            "/userinfo": lambda: provider.userinfo(authorization),
        }
        route = routes.get(url.path)
        self._answer(*(route() if route else (404, {"error": "not_found"})))

    def do_POST(self) -> None:
        provider: OIDCProvider = self.server.provider  # type: ignore[attr-defined]
        if urlsplit(self.path).path != "/token":
            self._answer(404, {"error": "not_found"})
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = dict(parse_qsl(body))
        self._answer(*provider.token(form, self.headers.get("Authorization", "")))

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        if status == 302:
            self.send_response(302)
            self.send_header("Location", payload["Location"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass
