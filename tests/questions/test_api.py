"""The JSON API contract (token auth): ask, read, answer, escalate, queues; errors as {"detail"}."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.tokens import create_token
from tests.questions.conftest import College, mails


def bearer(db: Session, user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    _, secret = create_token(db, user=user, name="api")
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_api_loop(client: TestClient, db: Session, college: College) -> None:
    teacher, referent, team = (
        bearer(db, college.teacher),
        bearer(db, college.referent),
        bearer(db, college.elearning),
    )
    created = client.post(
        "/api/questions",
        json={"title": "Teams : enregistrement introuvable", "body": "Où est la vidéo ?"},
        headers=teacher,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["department"] == "SCI" and body["status"] == "open" and isinstance(body["id"], int)
    qid = body["id"]
    assert [m.recipient for m in mails(db, "question.new")] == [college.referent.email]

    bad = client.post("/api/questions", json={"title": "x", "body": ""}, headers=teacher)
    assert bad.status_code == 422 and "detail" in bad.json()
    assert (
        client.post("/api/questions", json={"title": "Une question"}, headers=teacher).status_code
        == 422
    )

    queue = client.get("/api/queues/SCI", headers=referent)
    assert [item["question"]["id"] for item in queue.json()] == [qid]
    assert client.get("/api/queues/SCI", headers=teacher).status_code == 403
    assert client.get("/api/queues/NOPE", headers=referent).status_code == 404

    answer = client.post(
        f"/api/questions/{qid}/answers",
        json={"body": "Dans Stream, onglet Enregistrements."},
        headers=referent,
    )
    assert answer.status_code == 201 and answer.json()["kind"] == "answer"
    note = client.post(
        f"/api/questions/{qid}/answers",
        json={"body": "interne", "internal": True},
        headers=referent,
    )
    assert note.json()["kind"] == "note"
    read = client.get(f"/api/questions/{qid}", headers=teacher).json()
    assert read["status"] == "answered" and [m["kind"] for m in read["messages"]] == ["answer"]
    followup = client.post(
        f"/api/questions/{qid}/answers",
        json={"body": "Merci, mais il manque le son."},
        headers=teacher,
    )
    assert followup.status_code == 201 and followup.json()["kind"] == "reply"

    escalated = client.post(
        f"/api/questions/{qid}/escalate",
        json={"reason": "Problème de licence Stream"},
        headers=referent,
    )
    assert escalated.status_code == 201 and escalated.json()["level"] == 1
    again = client.post(
        f"/api/questions/{qid}/escalate", json={"reason": "encore"}, headers=referent
    )
    assert again.status_code == 409 and again.json()["detail"]
    assert (
        client.post(f"/api/questions/{qid}/escalate", json={}, headers=referent).status_code == 422
    )
    central = client.get("/api/queues/elearning", headers=team).json()
    assert [item["question"]["id"] for item in central] == [qid]
    assert client.get("/api/queues/elearning", headers=referent).status_code == 403
    assert client.get(f"/api/questions/{qid}").status_code == 401
    assert client.get("/api/questions/999999", headers=team).json() == {
        "detail": "Question introuvable."
    }
