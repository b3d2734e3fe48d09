"""Pages: htmx partials, friendly errors, the language switch, forms that work without JS."""

from __future__ import annotations

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.models import Role
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in


def test_htmx_request_gets_only_the_content_block(client: TestClient, db: Session) -> None:
    make_department(db)
    sign_in(client, make_user(db, Role.teacher, name="Marc Prof"))
    full = client.get("/")
    partial = client.get("/", headers={"HX-Request": "true"})
    assert full.headers["vary"].startswith("HX-Request")
    assert partial.headers["vary"].startswith("HX-Request")
    assert html.select(full, "html") and html.select(full, "nav")
    assert html.select(partial, "html, nav") == []
    assert "Bonjour Marc Prof" in html.text(partial, "h1")
    # History restore asks for the whole page even though it comes from htmx.
    restore = client.get("/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert html.select(restore, "html")


def test_navigation_follows_the_role(client: TestClient, db: Session) -> None:
    make_department(db)
    sign_in(client, make_user(db, Role.elearning))
    nav = BeautifulSoup(client.get("/").text, "html.parser").find("nav")
    assert nav is not None
    links = {a["href"] for a in nav.find_all("a")}
    assert {"/departments", "/admin", "/account"} <= links


def test_unknown_page_is_a_friendly_404(client: TestClient, db: Session) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page introuvable" in html.text(response, "h1") and html.select(response, "nav")
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "Page introuvable."}


def test_server_error_is_a_friendly_500(app, db: Session) -> None:  # type: ignore[no-untyped-def]
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert "Erreur du serveur" in html.text(response, "h1")
    assert "kaboom" not in response.text  # raw: not in the markup, a comment or an attribute


def test_language_switch_to_english_and_back(client: TestClient, db: Session) -> None:
    make_department(db)
    sign_in(client, make_user(db, Role.teacher, name="Marc Prof"))
    assert html.one(client.get("/"), "html")["lang"] == "fr"
    switched = client.get("/lang/en?next=/account")
    assert switched.status_code == 303 and switched.headers["location"] == "/account"
    page = client.get("/")
    assert html.one(page, "html")["lang"] == "en"
    assert "Hello Marc Prof" in html.text(page, "h1") and "Sign out" in html.text(page, "header")
    client.get("/lang/fr")
    assert "Bonjour Marc Prof" in html.text(client.get("/"), "h1")


def test_language_switch_refuses_offsite_redirect(client: TestClient) -> None:
    response = client.get("/lang/en?next=//evil.example/")
    assert response.headers["location"] == "/"


def test_account_language_is_remembered_across_sign_ins(client: TestClient, db: Session) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher, name="Marc Prof")
    sign_in(client, teacher)
    token = csrf_from(client.get("/account").text)
    assert (
        client.post("/account/language", data={"locale": "en", "csrf_token": token}).status_code
        == 303
    )
    saved = html.text(client.get("/account"), ".flash")
    assert "Language saved: it will follow you at every sign-in." in saved
    client.cookies.clear()
    sign_in(client, teacher)
    assert "Hello Marc Prof" in html.text(client.get("/"), "h1")


def test_admin_form_errors_are_shown_in_place_and_input_kept(
    client: TestClient, db: Session
) -> None:
    make_department(db)
    sign_in(client, make_user(db, Role.elearning))
    token = csrf_from(client.get("/admin/people").text)
    response = client.post(
        "/admin/people",
        data={
            "email": "not-an-email",
            "name": "Zoé Nouvelle",
            "role": "teacher",
            "csrf_token": token,
        },
    )
    assert response.status_code == 422
    soup = BeautifulSoup(response.text, "html.parser")
    email = soup.find("input", attrs={"name": "email"})
    assert email is not None and email["aria-invalid"] == "true"
    assert "Adresse e-mail invalide." in soup.get_text()
    assert "Un enseignant appartient à un département." in soup.get_text()
    name = soup.find("input", attrs={"name": "name"})
    assert name is not None and name["value"] == "Zoé Nouvelle"


def test_admin_creates_a_referent_for_two_departments(client: TestClient, db: Session) -> None:
    make_department(db, "SCI")
    make_department(db, "ART")
    sign_in(client, make_user(db, Role.elearning))
    token = csrf_from(client.get("/admin/people").text)
    response = client.post(
        "/admin/people",
        data={
            "email": "new.ref@college.example",
            "name": "Nouvelle Réf",
            "role": "referent",
            "departments": ["SCI", "ART"],
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    assert "Compte créé : new.ref@college.example" in html.text(
        client.get("/admin/people"), ".flash"
    )
    assert "Nouvelle Réf" in html.text(client.get("/departments/ART"), ".referents")


def test_every_form_posts_with_a_csrf_field(client: TestClient, db: Session) -> None:
    make_department(db)
    sign_in(client, make_user(db, Role.elearning))
    for path in ("/", "/account", "/admin/people"):
        soup = BeautifulSoup(client.get(path).text, "html.parser")
        for form in soup.find_all("form"):
            if form.get("method", "get").lower() == "post":
                assert form.find("input", attrs={"name": "csrf_token"}), (path, form.get("action"))


def test_output_is_escaped(client: TestClient, db: Session) -> None:
    make_department(db, "SCI", name="<script>alert(1)</script>")
    sign_in(client, make_user(db, Role.teacher, name="<img src=x onerror=alert(1)>"))
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_security_headers_are_sent(client: TestClient) -> None:
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_healthz_reports_the_database(client: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == settings.database_backend
    assert body["scheduler"]["in_this_process"] is False


def test_static_assets_are_vendored(client: TestClient) -> None:
    assert "htmx" in client.get("/static/vendor/htmx/htmx.min.js").text[:200]
    assert client.get("/static/vendor/pico/pico.min.css").status_code == 200


def test_error_messages_quoting_user_input_are_escaped(client: TestClient, db: Session) -> None:
    sign_in(client, make_user(db, Role.elearning))
    response = client.get("/departments/%3Cb%3Ebold%25(x)s")
    assert response.status_code == 404  # not a 500: the % is not a format directive
    assert "<b>bold" not in response.text
    assert "Département inconnu : &lt;b&gt;bold%(x)s" in response.text


def test_home_shows_each_staff_role_what_to_look_at_first(client: TestClient, db: Session) -> None:
    from hub.outbox import OutboxStatus, enqueue_mail

    make_department(db)
    teacher = make_user(db, Role.teacher)
    message = enqueue_mail(db, to="x@college.example", subject="s", text="t", kind="test")
    assert message is not None
    message.status = OutboxStatus.failed.value
    db.commit()
    sign_in(client, teacher)
    page = client.get("/")
    assert "/questions/new" in html.links(page, "main a")
    assert "0 en attente, 0 avec une réponse à lire" in html.text(page, "main")
    client.cookies.clear()
    sign_in(client, make_user(db, Role.elearning))
    glance = html.text(client.get("/"), "#glance-title + ul")
    assert "Le mode crise est désactivé." in glance
    assert "1 message en échec" in glance
