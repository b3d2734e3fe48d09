"""Search quality on queries written by people, in their words (issue 16): a second relevance
set in five styles (partial, everyday words, conversational, close siblings, Belgian and
campus words), by students, teachers, referents and the e-learning team.

Two halves: `people/tuning.yaml` may be looked at when improving the search; `people/heldout.yaml`
is scored here and never tuned on (no synonym, concept, phrasing or weight added because of
one of its queries). Both are scored on SQLite and PostgreSQL with the reader each article is
written for, and the figures printed for the README."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session, select

from hub.models import Role, User
from kb.articles import readable_audiences
from kb.models import Article
from kb.search import search
from tests.factories import make_department, make_user
from tests.kb.test_relevance import VIEWER_FOR_AUDIENCE

PEOPLE = Path(__file__).parent / "relevance" / "people"
VOICE_ROLE = {
    "student": Role.student,
    "teacher": Role.teacher,
    "referent": Role.referent,
    "elearning": Role.elearning,
}
# What each half must reach (MRR@10). The targets are 0.90 on the held-out half;
# these floors are what the search reaches today, so that it can only go up (README).
FLOORS = {"tuning": 0.89, "heldout": 0.71}


@dataclass(frozen=True)
class Query:
    text: str
    expected: tuple[str, ...]
    style: str
    voice: str


def load(half: str) -> list[Query]:
    entries = yaml.safe_load((PEOPLE / f"{half}.yaml").read_text(encoding="utf-8"))
    return [Query(e["query"], tuple(e["expected"]), e["style"], e["voice"]) for e in entries]


def test_the_set_is_large_and_split() -> None:
    tuning, heldout = load("tuning"), load("heldout")
    assert len(tuning) + len(heldout) >= 80
    assert not {q.text for q in tuning} & {q.text for q in heldout}
    for half in (tuning, heldout):
        assert {q.style for q in half} == {
            "partial",
            "everyday",
            "conversational",
            "sibling",
            "belgian",
        }
        assert {q.voice for q in half} >= {"student", "teacher"}
    assert "HELD OUT" in (PEOPLE / "heldout.yaml").read_text(encoding="utf-8").splitlines()[0]


def mrr(db: Session, queries: list[Query]) -> tuple[float, dict[str, float], list[str]]:
    """MRR@10, per style, and the misses; each query searched as its writer (the voice's
    role), or as the article's reader when the writer may not read it."""
    make_department(db, "SCI")
    viewers: dict[Role, User] = {
        role: make_user(
            db,
            role,
            departments=["SCI"] if role in (Role.teacher, Role.referent, Role.student) else [],
        )
        for role in Role
    }
    audiences = {a.slug: a.audience for a in db.exec(select(Article)).all()}
    per_style: dict[str, list[float]] = {}
    misses = []
    for query in queries:
        assert all(slug in audiences for slug in query.expected), query
        viewer = viewers[VOICE_ROLE[query.voice]]
        if audiences[query.expected[0]] not in readable_audiences(viewer):
            viewer = viewers[VIEWER_FOR_AUDIENCE[audiences[query.expected[0]]]]
        found = [r.article.slug for r in search(db, query.text, viewer=viewer, limit=10).results]
        rank = next((i for i, slug in enumerate(found, 1) if slug in query.expected), None)
        per_style.setdefault(query.style, []).append(1 / rank if rank else 0.0)
        if rank != 1:
            misses.append(f"{query.style}/{query.voice}: {query.text!r} -> {rank} {found[:3]}")
    scores = [s for values in per_style.values() for s in values]
    styles = {style: sum(v) / len(v) for style, v in per_style.items()}
    return sum(scores) / len(scores), styles, misses


@pytest.mark.parametrize("half", ["tuning", "heldout"])
def test_people_find_their_article(db: Session, starter_pack: None, half: str) -> None:
    overall, styles, misses = mrr(db, load(half))
    report = " ".join(f"{style}={score:.3f}" for style, score in sorted(styles.items()))
    print(f"\n{half}: MRR@10 {overall:.3f} ({report}); {len(misses)} not first")  # noqa: T201
    assert overall >= FLOORS[half], f"{half} MRR@10 {overall:.3f}:\n" + "\n".join(misses)
