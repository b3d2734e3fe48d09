"""Single sign-on: the hub's OpenID Connect client against a local provider on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.app import create_app
from hub.models import Role
from tests import html
from tests.factories import make_department, make_user
from tests.oidc_provider import OIDCProvider

CLIENT_ID = "hub-client-id"
CLIENT_SECRET = "hub-client-secret"
CALLBACK_URL = "http://testserver/login/sso/callback"


@pytest.fixture
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as provider:
        yield provider


@pytest.fixture
def sso_client(
    make_settings: Any, database_url: str, provider: OIDCProvider
) -> Iterator[TestClient]:
    settings = make_settings(
        database_url=database_url,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_metadata_url=provider.url + "/.well-known/openid-configuration",
        base_url="http://testserver",
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def _go_to_provider(client: TestClient, next: str = "/") -> httpx.Response:
    """Click the SSO button, then let the browser follow the hub's redirect to the provider."""
    start = client.get("/login/sso", params={"next": next})
    assert start.status_code == 302, start.text
    answer = httpx.get(start.headers["location"])  # real HTTP to the provider
    assert answer.status_code == 302, answer.text
    return answer


def _sign_in_through_provider(client: TestClient, next: str = "/") -> httpx.Response:
    callback = _go_to_provider(client, next).headers["location"]
    assert callback.startswith(CALLBACK_URL + "?")
    return client.get(callback)


def _assert_not_signed_in(client: TestClient) -> None:
    assert "Bonjour" not in html.text(client.get("/"))
    account = client.get("/account")
    assert account.status_code == 303
    assert account.headers["location"].startswith("/login")


def test_sign_in_with_sso_redirects_to_next_page(
    sso_client: TestClient, db: Session, provider: OIDCProvider
) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher, name="Alice Prof", password=None)
    login = sso_client.get("/login", params={"next": "/departments"})
    button = html.one(login, "main a[href^='/login/sso']")
    assert html.text(button) == "Se connecter avec Microsoft"
    assert button["href"] == "/login/sso?next=/departments"

    provider.email = teacher.email.upper()  # providers do not promise the stored case
    response = _sign_in_through_provider(sso_client, next="/departments")

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/departments"
    assert "Bonjour Alice Prof" in html.text(sso_client.get("/"), "h1")
    [grant] = provider.authorizations
    assert grant.client_id == CLIENT_ID
    assert grant.redirect_uri == CALLBACK_URL
    assert grant.nonce  # replay protection requested, and checked in the id_token
    [token_request] = provider.token_requests
    assert token_request["redirect_uri"] == CALLBACK_URL


def test_sign_in_with_sso_refuses_unknown_email(
    sso_client: TestClient, db: Session, provider: OIDCProvider
) -> None:
    make_department(db)
    make_user(db, Role.teacher)
    provider.email = "stranger@college.example"
    response = _sign_in_through_provider(sso_client)
    assert response.status_code == 403
    message = html.text(response, "main")
    assert "Aucun compte actif pour stranger@college.example" in message
    assert "demandez à l'équipe e-learning de vous ajouter" in message
    _assert_not_signed_in(sso_client)


def test_sign_in_with_sso_refuses_deactivated_account(
    sso_client: TestClient, db: Session, provider: OIDCProvider
) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher, password=None)
    teacher.is_active = False
    db.add(teacher)
    db.commit()
    provider.email = teacher.email
    response = _sign_in_through_provider(sso_client)
    assert response.status_code == 403
    assert "équipe e-learning" in html.text(response, "main")
    _assert_not_signed_in(sso_client)


def test_sign_in_with_sso_refuses_forged_state(
    sso_client: TestClient, db: Session, provider: OIDCProvider
) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher, password=None)
    provider.email = teacher.email
    callback = urlsplit(_go_to_provider(sso_client).headers["location"])
    code = parse_qs(callback.query)["code"][0]
    forged = f"{CALLBACK_URL}?{urlencode({'code': code, 'state': 'never-issued-by-the-hub'})}"
    response = sso_client.get(forged)
    assert response.status_code == 400
    alert = html.text(response, "main [role=alert]")
    assert "La connexion unique a échoué (MismatchingStateError)" in alert
    assert provider.token_requests == []  # the code was never even redeemed
    _assert_not_signed_in(sso_client)


def test_sign_in_with_sso_refuses_callback_from_another_browser(
    sso_client: TestClient, db: Session, provider: OIDCProvider
) -> None:
    make_department(db)
    attacker = make_user(db, Role.teacher, name="Mallory", password=None)
    provider.email = attacker.email
    callback = _go_to_provider(sso_client).headers["location"]
    with TestClient(sso_client.app, follow_redirects=False) as victim:
        response = victim.get(callback)  # login CSRF: the attacker's code in the victim's tab
        assert response.status_code == 400
        assert "La connexion unique a échoué" in html.text(response, "main [role=alert]")
        _assert_not_signed_in(victim)


def test_sign_in_with_sso_refuses_id_token_signed_by_another_key(
    sso_client: TestClient, db: Session, provider: OIDCProvider
) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher, password=None)
    provider.email = teacher.email
    provider.sign_with_rogue_key = True
    response = _sign_in_through_provider(sso_client)
    assert response.status_code == 400
    alert = html.text(response, "main [role=alert]")
    assert "La connexion unique a échoué (BadSignatureError)" in alert
    assert len(provider.token_requests) == 1  # refused after the token came back
    _assert_not_signed_in(sso_client)


def test_sign_in_with_sso_shows_provider_refusal(
    sso_client: TestClient, provider: OIDCProvider
) -> None:
    provider.refusal = "The user has not been granted access to this application."
    response = _sign_in_through_provider(sso_client)
    assert response.status_code == 400
    alert = html.text(response, "main [role=alert]")
    assert "Connexion refusée : The user has not been granted access" in alert
    _assert_not_signed_in(sso_client)


def test_sign_in_with_sso_shows_provider_refusal_as_plain_text(
    sso_client: TestClient, provider: OIDCProvider
) -> None:
    provider.refusal = '<a href="https://evil.example">Renew</a> 100% (%(x)s)'
    response = _sign_in_through_provider(sso_client)
    assert response.status_code == 400
    assert "&lt;a href=&#34;https://evil.example&#34;&gt;Renew&lt;/a&gt; 100% (%(x)s)" in (
        response.text
    )
    assert '<a href="https://evil.example">' not in response.text


def test_sign_in_with_sso_is_absent_when_not_configured(client: TestClient) -> None:
    assert "Se connecter avec" not in html.text(client.get("/login"))
    assert client.get("/login/sso").status_code == 404
    assert client.get("/login/sso/callback", params={"code": "x", "state": "y"}).status_code == 404
