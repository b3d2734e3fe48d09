"""The authorization matrix: every route of the app x six principals, expected outcome each.

Routes are enumerated from `app.routes` (included routers flattened), so a new route that is
not in `MATRIX` fails `test_every_route_is_classified`. Each principal gets its own database
with one real object of each kind (tests/security/conftest.py), and the routes are replayed
in the table's order: GET pages (also as htmx partials, `HX-Request: true`), then unsafe
requests with a valid CSRF token (forms) or the principal's bearer token (`/api/`), so what
is checked is authorization, not CSRF. Destructive routes come last in the table.

Outcomes:
  OK     allowed: any answer that is not 204/401/403/404/login/5xx (2xx, 3xx elsewhere, or
         a 400/409/422 that refuses the *input* after the role check)
  EMPTY  204 with an empty body (an htmx panel that has nothing for this visitor)
  LOGIN  303 to /login?next=... (pages and forms of anonymous visitors)
  A401   401 with WWW-Authenticate: Bearer (JSON API without a token)
  F403   403 (signed in, role not allowed)
  N404   404 (not found, or hidden: other people's mail, tokens, drafts, questions)

Related tests that go deeper on one area: tests/questions/test_isolation.py (question
endpoints x 8 roles including a backup referent), tests/test_roles.py, tests/kb/test_api.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from hub.app import create_app
from hub.settings import Settings
from tests import exam_csv
from tests.factories import PASSWORD, csrf_from
from tests.security.conftest import PRINCIPALS, World, build_world, signed_in

OK, EMPTY, LOGIN, A401, F403, N404 = "ok", "204", "login", "401", "403", "404"

# Shorthands for common rows (anonymous, student, teacher, referent of LET, referent of SCI,
# e-learning team).
PUBLIC = (OK, OK, OK, OK, OK, OK)
SIGNED_IN = (LOGIN, OK, OK, OK, OK, OK)
STAFF = (LOGIN, F403, OK, OK, OK, OK)  # teachers, referents, the e-learning team
AUTHORS = (LOGIN, F403, F403, OK, OK, OK)  # referents and the e-learning team
TEAM = (LOGIN, F403, F403, F403, F403, OK)  # the e-learning team only
SCI_STAFF = (LOGIN, F403, F403, F403, OK, OK)  # SCI's referent and the team
API_SIGNED_IN = (A401, OK, OK, OK, OK, OK)
API_STAFF = (A401, F403, OK, OK, OK, OK)
API_TEAM = (A401, F403, F403, F403, F403, OK)
ASKERS = (LOGIN, F403, OK, F403, F403, F403)  # teachers ask questions
API_ASKERS = (A401, F403, OK, F403, F403, F403)
# The SCI question (asked by the teacher): students and LET's referent do not learn it exists.
QUESTION_READERS = (LOGIN, N404, OK, N404, OK, OK)
QUESTION_STAFF = (LOGIN, N404, F403, N404, OK, OK)  # triage: SCI's referent and the team
TEACHER_ARTICLE = (LOGIN, N404, OK, OK, OK, OK)  # audience teacher: hidden from students
# A draft of SCI: hidden from readers and from LET's referent.
SCI_DRAFT = (LOGIN, N404, N404, N404, OK, OK)


@dataclass(frozen=True)
class Row:
    expected: tuple[str, str, str, str, str, str]
    data: dict[str, Any] = field(default_factory=dict)  # form fields (unsafe methods)
    json: dict[str, Any] | None = None  # JSON body (API)
    files: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)  # path parameters overriding World
    query: dict[str, str] = field(default_factory=dict)
    why: str = ""


def R(expected: tuple[str, ...], **options: Any) -> Row:  # noqa: N802  (reads as a table)
    return Row(expected=expected, **options)  # type: ignore[arg-type]


DRAFT = {"slug": "{draft_slug}"}
WEBINAR_FORM = {
    "title": "Webinaire matrice",
    "starts_at": "2031-03-04T15:00",
    "duration_minutes": "60",
    "capacity": "20",
    "description": "Test",
}
TIMETABLE = exam_csv.csv_bytes([exam_csv.row("PHYS201", "Physique", starts_at="2031-01-10 09:00")])

#                                              anon   student teacher refLET refSCI team
MATRIX: dict[str, Row] = {
    # --- framework, public pages -------------------------------------------------------------
    "GET /api/openapi.json": R(PUBLIC),
    "GET /api/docs": R(PUBLIC),
    "GET /docs/oauth2-redirect": R(PUBLIC),
    "GET /static": R(PUBLIC, params={"path": "hub.css"}),
    "GET /": R(PUBLIC),
    "GET /lang/{locale}": R(PUBLIC),
    "GET /start": R(PUBLIC),
    "GET /login": R(PUBLIC),
    "GET /login/sso": R((N404,) * 6, why="single sign-on is not configured"),
    "GET /login/sso/callback": R((N404,) * 6),
    "GET /healthz": R(PUBLIC),
    "GET /kb": R(PUBLIC),
    "GET /kb/suggest": R(PUBLIC, query={"q": "moodle"}),
    "GET /kb/{slug}": R(TEACHER_ARTICLE),
    "GET /kb/{slug}/print": R(TEACHER_ARTICLE),
    "GET /kb/{slug}/feedback": R(TEACHER_ARTICLE),
    "GET /api/kb/search": R(PUBLIC, query={"q": "quiz"}),
    "GET /api/kb/articles/{slug}": R(
        (A401, N404, OK, OK, OK, OK), why="not public: anonymous readers are asked for a token"
    ),
    "GET /exams": R(PUBLIC),
    "GET /exams/{exam_id}": R(PUBLIC),
    "GET /exams/{exam_id}/problem": R(PUBLIC),
    "GET /poster": R(PUBLIC, query={"target": "/exams"}),
    "GET /s/{code}.{kind}": R(PUBLIC, params={"code": "{short_code}"}),
    "GET /s/{code}": R(PUBLIC, params={"code": "{short_code}"}),
    "GET /api/exams": R(PUBLIC),
    "GET /api/exams/{exam_id}": R(PUBLIC),
    "GET /webinars": R(PUBLIC),
    "GET /webinars/{webinar_id:int}": R(PUBLIC),
    "GET /webinars/{webinar_id:int}/invite.ics": R(PUBLIC),
    "GET /calendar/{token}.ics": R(PUBLIC, why="the secret token is the credential"),
    "GET /kind-words": R(STAFF),
    # --- signed-in pages ---------------------------------------------------------------------
    "GET /account": R(SIGNED_IN),
    "GET /account/messages": R(SIGNED_IN),
    "GET /account/messages/{message_id}": R(
        (LOGIN, N404, OK, N404, N404, OK), why="the teacher's invite: only them and the team"
    ),
    "GET /account/messages/{message_id}/invite.ics": R((LOGIN, N404, OK, N404, N404, OK)),
    "GET /departments": R(STAFF),
    "GET /departments/{code}": R((LOGIN, F403, OK, F403, OK, OK)),
    "GET /webinars/calendar": R(SIGNED_IN),
    "GET /questions/new": R(ASKERS),
    "GET /questions/suggest": R(ASKERS, query={"title": "quiz moodle"}),
    "GET /questions/suggestion/{slug}": R(ASKERS),
    "GET /questions": R(SIGNED_IN, why="one's own questions (none for most)"),
    "GET /questions/{question_id}": R(QUESTION_READERS, why="asker, SCI's referent, the team"),
    "GET /attachments/{attachment_id}": R(QUESTION_READERS),
    "GET /teams/feed": R((EMPTY, EMPTY, OK, OK, OK, OK), why="the staff home page panel"),
    "GET /teams": R(STAFF),
    # --- referents and the team --------------------------------------------------------------
    "GET /kb/new": R(AUTHORS),
    "GET /kb/{slug}/edit": R((LOGIN, F403, F403, N404, OK, OK), params=DRAFT),
    "GET /kb/{slug}/revisions": R(SCI_DRAFT, params=DRAFT),
    "GET /exams/problems": R(AUTHORS),
    "GET /queues": R(AUTHORS),
    "GET /queues/canned": R(AUTHORS),
    "GET /queues/{code}": R(SCI_STAFF),
    "GET /api/queues/{department}": R((A401, F403, F403, F403, OK, OK)),
    "GET /api/me": R(API_SIGNED_IN),
    "GET /api/departments": R(API_STAFF),
    "GET /api/webinars": R(API_SIGNED_IN),
    "GET /api/webinars/{webinar_id:int}": R(API_SIGNED_IN),
    "GET /api/questions/{question_id}": R((A401, N404, OK, N404, OK, OK)),
    # --- the e-learning team -----------------------------------------------------------------
    "GET /admin": R(TEAM),
    "GET /admin/people": R(TEAM),
    "GET /admin/outbox": R(TEAM),
    "GET /admin/outbox/{message_id}": R(
        (LOGIN, N404, OK, N404, N404, OK), why="the teacher's own invite, like /account/messages"
    ),
    "GET /crisis": R(TEAM),
    "GET /crisis/readiness": R(TEAM),
    "GET /dashboard": R(TEAM),
    "GET /dashboard/{key}.csv": R(TEAM),
    "GET /kb/gaps": R(TEAM),
    "GET /kb/synonyms": R(TEAM),
    "GET /kb/phrasings": R(AUTHORS),
    "GET /exams/import": R(TEAM),
    "GET /webinars/new": R(TEAM),
    "GET /webinars/{webinar_id:int}/edit": R(TEAM),
    "GET /webinars/series/new": R(TEAM),
    "GET /queues/elearning": R(TEAM),
    "GET /api/queues/elearning": R(API_TEAM),
    # --- unsafe: public forms ----------------------------------------------------------------
    "POST /login": R(PUBLIC, data={"email": "nobody@college.example", "password": "wrong"}),
    "POST /login/demo": R((N404,) * 6, data={"email": "x@college.example"}, why="demo mode is off"),
    "POST /exams/{exam_id}/problem": R(
        PUBLIC,
        data={
            "name": "Sam",
            "email": "sam@college.example",
            "student_number": "12345",
            "message": "Le lien ne marche pas",
        },
    ),
    "POST /kb/preview": R(AUTHORS, data={"body": "# Titre"}),
    # --- unsafe: signed in -------------------------------------------------------------------
    "POST /account/language": R(SIGNED_IN, data={"locale": "fr"}),
    "POST /account/tokens": R(SIGNED_IN, data={"name": "matrice"}),
    "POST /kb/{slug}/checklist/{item_key}": R(TEACHER_ARTICLE, data={"ticked": "1"}),
    "POST /kb/{slug}/checklist-reset": R(TEACHER_ARTICLE),
    "POST /kb/{slug}/feedback": R(TEACHER_ARTICLE, data={"helpful": "1"}),
    "POST /webinars/{webinar_id:int}/register": R(STAFF),
    "POST /webinars/{webinar_id:int}/questions": R(STAFF, data={"text": "Et les notes ?"}),
    "POST /webinars/questions/{question_id:int}/vote": R(
        STAFF, params={"question_id": "{webinar_question_id}"}
    ),
    "POST /webinars/{webinar_id:int}/unregister": R(STAFF),
    "POST /webinars/calendar/feed": R(SIGNED_IN),
    "POST /kind-words": R(STAFF, data={"body": "Courage à tous"}),
    "POST /questions/solved": R(
        (LOGIN, F403, N404, F403, F403, F403),
        data={"draft": "d" * 16, "slug": "{slug}"},
        why="askers only; the teacher passes the role check and hits the unknown draft",
    ),
    "POST /questions/new": R(ASKERS, data={"title": "Nouvelle question", "body": "Détails"}),
    "POST /questions/{question_id}/reply": R(
        (LOGIN, N404, OK, N404, F403, F403), data={"body": "Merci"}, why="the asker's follow-up"
    ),
    "POST /api/questions": R(API_ASKERS, json={"title": "Par l'API", "body": "Détails"}),
    "POST /api/webinars/{webinar_id:int}/registrations": R(API_STAFF),
    "DELETE /api/webinars/{webinar_id:int}/registrations": R(API_STAFF),
    # --- unsafe: referents and the team ------------------------------------------------------
    "POST /questions/{question_id}/claim": R(QUESTION_STAFF),
    "POST /questions/{question_id}/assign": R(QUESTION_STAFF, data={"assignee": "{referent_id}"}),
    "POST /questions/{question_id}/tags": R(QUESTION_STAFF, data={"tags": "moodle"}),
    "POST /questions/{question_id}/priority": R(QUESTION_STAFF, data={"priority": "high"}),
    "POST /questions/{question_id}/answer": R(
        QUESTION_STAFF, data={"body": "Réponse", "internal": ""}
    ),
    "POST /api/questions/{question_id}/answers": R(
        (A401, N404, OK, N404, OK, OK),
        json={"body": "Suite", "internal": False},
        why="the asker's post is a follow-up",
    ),
    "POST /questions/{question_id}/article": R(QUESTION_STAFF),
    "POST /questions/{question_id}/escalate": R(
        (LOGIN, N404, F403, N404, OK, F403), data={"reason": "Urgent"}, why="referents escalate"
    ),
    "POST /api/questions/{question_id}/escalate": R(
        (A401, N404, F403, N404, OK, F403), json={"reason": "Urgent"}
    ),
    "POST /questions/{question_id}/merge": R(
        QUESTION_STAFF,
        params={"question_id": "{other_question_id}"},
        data={"into": "{question_id}"},
    ),
    "POST /questions/{question_id}/resolved": R(QUESTION_READERS),
    "POST /questions/{question_id}/reopen": R(QUESTION_READERS, data={"body": "Toujours bloquée"}),
    "POST /queues/canned": R(AUTHORS, data={"title": "Mot de passe", "body": "Réinitialisez."}),
    "POST /queues/canned/{canned_id}/delete": R(AUTHORS),
    "POST /queues/absence": R(
        (LOGIN, F403, F403, OK, OK, F403),
        data={"until": ""},
        why="referents mark themselves absent",
    ),
    "POST /kb/new": R(
        AUTHORS,
        data={
            "slug": "nouvel-article",
            "title": "Nouvel article",
            "kind": "tutorial",
            "audience": "teacher",
            "body": "Texte.",
            "status": "draft",
        },
    ),
    "POST /kb/{slug}/edit": R(
        SCI_DRAFT,
        params=DRAFT,
        data={
            "title": "Brouillon modifié",
            "kind": "tutorial",
            "audience": "teacher",
            "body": "Texte modifié.",
            "department": "SCI",
            "status": "draft",
        },
    ),
    "POST /kb/{slug}/revisions/{number}/restore": R(SCI_DRAFT, params=DRAFT),
    "POST /kb/{slug}/status": R(SCI_DRAFT, params=DRAFT, data={"status": "published"}),
    "POST /teams/feed/refresh": R(TEAM),
    "POST /exams/problems/{problem_id:int}/handled": R(
        (LOGIN, F403, F403, N404, OK, OK), why="the SCI exam's report: not LET's referent"
    ),
    "POST /departments/{code}/teams-channel": R(
        TEAM, data={"teams_channel_id": "19:abc@thread.tacv2"}
    ),
    "POST /departments/{code}/referents/{user_id:int}/absence": R(
        TEAM,
        params={"user_id": "{referent_id}"},
        data={"back": "1"},
        why="referents mark their own absence on /queues",
    ),
    # --- unsafe: the e-learning team ---------------------------------------------------------
    "POST /admin/people": R(
        TEAM,
        data={
            "email": "nouvelle@college.example",
            "name": "Nouvelle Prof",
            "role": "teacher",
            "departments": "SCI",
        },
    ),
    "POST /admin/departments": R(TEAM, data={"code": "NEW", "name": "Nouveau"}),
    "POST /admin/outbox/{message_id}/retry": R(TEAM),
    "POST /crisis/switch": R(TEAM, data={"action": "on", "message": "Bâtiment fermé"}),
    "POST /crisis/pins": R(TEAM, data={"teacher": "{slug}"}),
    "POST /crisis/template": R(
        TEAM, data={"title": "Questions-réponses", "pattern": "mardi 15:00", "description": "x"}
    ),
    "POST /crisis/readiness/test": R(TEAM),
    "POST /kb/synonyms": R(TEAM, data={"term": "lms2", "expansion": "moodle"}),
    "POST /kb/synonyms/{synonym_id}/delete": R(TEAM),
    "POST /kb/concepts": R(TEAM, data={"members": "noter\ncoter"}),
    "POST /kb/concepts/{concept_id}": R(TEAM, data={"members": "présence\npointage"}),
    "POST /kb/concepts/{concept_id}/delete": R(TEAM),
    # A phrasing of a SCI article: SCI's referent (who may edit it) and the team decide.
    "POST /kb/phrasings/{proposal_id}/accept": R(SCI_STAFF),
    "POST /kb/phrasings/{proposal_id}/reject": R(SCI_STAFF),
    "POST /exams/import": R(TEAM, files={"file": ("horaire.csv", TIMETABLE, "text/csv")}),
    "POST /exams/{exam_id}/status": R(
        TEAM, data={"status": "moved", "new_start": "2031-02-01 10:00", "note": "Salle"}
    ),
    "POST /webinars/new": R(TEAM, data=WEBINAR_FORM),
    "POST /webinars/{webinar_id:int}/edit": R(TEAM, data=WEBINAR_FORM),
    "POST /webinars/series/new": R(
        TEAM,
        data={
            "title": "Série",
            "pattern": "mardi 15:00",
            "starts_on": "2031-03-01",
            "ends_on": "2031-03-20",
            "duration_minutes": "60",
            "capacity": "20",
        },
    ),
    "POST /webinars/{webinar_id:int}/join-url": R(
        TEAM, data={"join_url": "https://teams.microsoft.com/l/meetup-join/abc"}
    ),
    "POST /webinars/{webinar_id:int}/announce": R(TEAM, data={"scope": "session"}),
    "POST /webinars/{webinar_id:int}/attendance": R(TEAM, data={"present": "{teacher_id}"}),
    "POST /webinars/{webinar_id:int}/recording": R(
        TEAM, data={"recording_url": "https://video.college.example/r", "transcript": "x"}
    ),
    "POST /webinars/{webinar_id:int}/publish": R(TEAM),
    "POST /teams/webinars/{webinar_id:int}/meeting": R(TEAM),
    "POST /api/webinars": R(
        API_TEAM,
        json={
            "title": "Par l'API",
            "starts_at": "2031-03-04T15:00",
            "duration_minutes": 60,
            "capacity": 20,
            "description": "",
        },
    ),
    "POST /kind-words/{word_id:int}/approve": R(TEAM),
    "POST /kind-words/{word_id:int}/reject": R(TEAM),
    # --- destructive, last -------------------------------------------------------------------
    "POST /account/tokens/{token_id}/revoke": R(
        (LOGIN, F403, OK, F403, F403, OK), why="the teacher's own token; the team administers"
    ),
    "POST /webinars/calendar/feed/revoke": R(SIGNED_IN),
    "POST /webinars/{webinar_id:int}/cancel": R(TEAM),
    "POST /kb/{slug}/delete": R(TEAM, params=DRAFT, why="only the team deletes articles"),
    "POST /account/password": R(
        SIGNED_IN, data={"current": PASSWORD, "new": "another quite long passphrase 42"}
    ),
    "POST /logout": R(PUBLIC, why="signing out is harmless when signed out"),
}


def app_routes(app: Any) -> Iterator[str]:
    """'METHOD path' for every route and method (HEAD goes with GET; mounts count as GET)."""
    for route in iter_route_contexts(app.routes):
        methods = route.methods or {"GET"}
        for method in sorted(set(methods) - {"HEAD"}):
            yield f"{method} {route.path}"


def test_every_route_is_classified(make_settings: Any) -> None:
    routes = set(app_routes(create_app(make_settings())))
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes without an expected outcome in MATRIX: {missing}"
    assert not stale, f"MATRIX rows for routes that no longer exist: {stale}"


PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _url(path: str, row: Row, values: dict[str, object]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        value = row.params.get(name, "{" + name + "}")
        return value.format(**values)

    if path == "/static":
        return "/static/" + row.params["path"]
    return PARAM.sub(fill, path)


def _filled(data: dict[str, Any], values: dict[str, object]) -> dict[str, Any]:
    return {k: v.format(**values) if isinstance(v, str) else v for k, v in data.items()}


def outcome(response: Response) -> str:
    status = response.status_code
    location = response.headers.get("location", "")
    if status in (302, 303, 307) and location.startswith("/login"):
        return LOGIN
    if status == 401:
        assert response.headers.get("www-authenticate") == "Bearer"
        return A401
    if status in (403, 404):
        return str(status)
    if status == 204:
        assert not response.content
        return EMPTY
    if status >= 500 or status in (405, 413, 429):
        return f"unexpected {status}"
    return OK


HTMX = {"HX-Request": "true"}
CSRF_HEADER = re.compile(r'"X-CSRF-Token": "([^"]+)"')


def _csrf(client: TestClient, principal: str) -> str:
    if principal == "anonymous":
        return csrf_from(client.get("/login").text)
    match = CSRF_HEADER.search(client.get("/account").text)
    assert match, "signed-in pages carry the CSRF token for htmx"
    return match.group(1)


def _request(
    client: TestClient,
    world: World,
    key: str,
    row: Row,
    *,
    principal: str,
    csrf: str = "",
    htmx: bool = False,
) -> Response:
    method, path = key.split(" ", 1)
    values = {
        **world.ids,
        "teacher_id": world.users["teacher"].id,
        "referent_id": world.users["referent"].id,
    }
    url = _url(path, row, values)
    headers: dict[str, str] = dict(HTMX) if htmx else {}
    if path.startswith("/api/") and principal != "anonymous":
        headers["Authorization"] = f"Bearer {world.tokens[principal]}"
    elif method != "GET":
        headers["X-CSRF-Token"] = csrf
    return client.request(
        method,
        url,
        params=row.query or None,
        data=_filled(row.data, values) or None,
        json=row.json,
        files=row.files,
        headers=headers,
    )


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_authorization_matrix(app: Any, db: Session, settings: Settings, principal: str) -> None:
    world = build_world(db, settings)
    column = PRINCIPALS.index(principal)
    wrong: list[str] = []
    with TestClient(app, follow_redirects=False) as client:
        signed_in(client, world, principal)
        csrf = _csrf(client, principal)  # the session's token changes only at sign-in/out
        for key, row in MATRIX.items():
            if key == "POST /logout":
                csrf = _csrf(client, principal)  # after the password change
            expected = row.expected[column]
            response = _request(client, world, key, row, principal=principal, csrf=csrf)
            got = outcome(response)
            if got != expected:
                wrong.append(f"{key}: expected {expected}, got {response.status_code}")
            if key.startswith("GET ") and not key.startswith(("GET /api/", "GET /static")):
                again = _request(client, world, key, row, principal=principal, htmx=True)
                partial = outcome(again)
                if partial != expected:
                    wrong.append(f"{key} (htmx): expected {expected}, got {partial}")
    assert not wrong, f"{principal}:\n" + "\n".join(wrong)
