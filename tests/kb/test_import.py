"""`hub kb import` / `hub kb export`: idempotent import, bad files reported by name and
reason while good ones are kept, and an export that imports back to the same articles."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.cli import main
from hub.db import make_engine
from hub.models import Department, Role
from hub.settings import Settings
from kb.importer import import_directory
from kb.models import Article, ArticleRevision, Status
from tests.factories import csrf_from, make_department, make_user, sign_in

GOOD = """---
slug: {slug}
title: {title}
kind: tutorial
audience: teacher
tags: [vidéo, capsule]
summary: Deux méthodes pour enregistrer une vidéo.
verified: 2026-11-15
---
Une **capsule** est une vidéo courte.

## Méthode 1

1. Ouvrez PowerPoint.
"""


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _good(directory: Path, slug: str, title: str = "Enregistrer une capsule vidéo") -> Path:
    return _write(directory, f"{slug}.md", GOOD.format(slug=slug, title=title))


def _cli(settings: Settings, *args: str) -> Result:
    env = {"HUB_DATABASE_URL": settings.effective_database_url, "HUB_ENV": "test"}
    return CliRunner().invoke(main, list(args), env=env)


def _refresh(db: Session) -> None:
    db.rollback()
    db.expire_all()


def _revision_count(db: Session) -> int:
    _refresh(db)
    return len(db.exec(select(ArticleRevision)).all())


def test_import_twice_changes_nothing_the_second_time(db: Session, tmp_path: Path) -> None:
    _good(tmp_path, "capsule-video", "Enregistrer une capsule vidéo")
    _good(tmp_path, "capsule-publier", "Publier une capsule")
    _write(tmp_path, "README.md", "Ce dossier contient les articles.\n")  # not an article
    first = import_directory(db, tmp_path)
    db.commit()
    assert first.created == ["capsule-publier", "capsule-video"] and not first.errors

    second = import_directory(db, tmp_path)
    db.commit()
    assert second.unchanged == ["capsule-publier", "capsule-video"]
    assert second.created == second.updated == second.errors == []
    assert _revision_count(db) == 2


def test_import_changed_file_updates_article_with_new_revision(db: Session, tmp_path: Path) -> None:
    path = _good(tmp_path, "capsule-video")
    import_directory(db, tmp_path)
    db.commit()
    path.write_text(path.read_text(encoding="utf-8").replace("PowerPoint", "OBS Studio"))
    report = import_directory(db, tmp_path)
    db.commit()
    assert report.updated == ["capsule-video"] and report.unchanged == []
    _refresh(db)
    article = db.exec(select(Article)).one()
    assert article.revision == 2 and "OBS Studio" in article.body
    numbers = db.exec(select(ArticleRevision.number).order_by(col(ArticleRevision.number))).all()
    assert list(numbers) == [1, 2]


# Each bad file, and what its reason must say.
BAD_FILES: dict[str, tuple[str, str]] = {
    "sans-entete.md": ("# Pas d'en-tête\n\nDu texte.\n", "front matter must start with ---"),
    "non-ferme.md": ("---\nslug: non-ferme\ntitle: Titre\n\nDu texte.\n", "not closed"),
    "yaml-invalide.md": (
        "---\nslug: yaml-invalide\ntitle: [pas fermé\nkind: tutorial\n---\nTexte\n",
        "line 4",
    ),
    "type-inconnu.md": (
        "---\nslug: type-inconnu\ntitle: Titre\nkind: podcast\naudience: teacher\n---\nTexte\n",
        "kind: Type inconnu",
    ),
    "autre-nom.md": (
        "---\nslug: pas-le-meme\ntitle: Titre\nkind: guide\naudience: teacher\n---\nTexte\n",
        "differs from the file name",
    ),
    "cle-inconnue.md": (
        "---\nslug: cle-inconnue\ntitle: Titre\nkind: guide\naudience: teacher\nauteur: Moi\n"
        "---\nTexte\n",
        "unknown front matter key(s): auteur",
    ),
}


def _bad_directory(directory: Path) -> None:
    for name, (text, _reason) in BAD_FILES.items():
        _write(directory, name, text)
    latin1 = "---\nslug: latin\ntitle: Café\nkind: guide\naudience: teacher\n---\nÉté\n"
    (directory / "latin.md").write_bytes(latin1.encode("latin-1"))
    _good(directory, "capsule-video")


def test_import_reports_each_bad_file_and_keeps_good_ones(db: Session, tmp_path: Path) -> None:
    _bad_directory(tmp_path)
    report = import_directory(db, tmp_path)
    db.commit()
    reasons = dict(report.errors)
    assert set(reasons) == {*BAD_FILES, "latin.md"}
    for name, (_text, expected) in BAD_FILES.items():
        assert expected in reasons[name], (name, reasons[name])
    assert "not UTF-8" in reasons["latin.md"]
    assert report.created == ["capsule-video"]
    _refresh(db)
    assert [a.slug for a in db.exec(select(Article)).all()] == ["capsule-video"]


def test_cli_import_lists_rejected_files_and_exits_1(
    settings: Settings, db: Session, tmp_path: Path
) -> None:
    _bad_directory(tmp_path / "content")
    result = _cli(settings, "kb", "import", str(tmp_path / "content"))
    assert result.exit_code == 1
    assert "1 created, 0 updated, 0 unchanged, 7 rejected" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 7
    assert "autre-nom.md: slug 'pas-le-meme' differs from the file name 'autre-nom'" in lines
    assert any(line.startswith("yaml-invalide.md: line 4: invalid YAML") for line in lines)
    _refresh(db)
    assert db.exec(select(Article.slug)).all() == ["capsule-video"]

    again = _cli(settings, "kb", "import", str(tmp_path / "content"))
    assert "0 created, 0 updated, 1 unchanged, 7 rejected" in again.stdout


def test_cli_import_of_good_directory_exits_0(
    settings: Settings, db: Session, tmp_path: Path
) -> None:
    _good(tmp_path, "capsule-video")
    result = _cli(settings, "kb", "import", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 created, 0 updated, 0 unchanged, 0 rejected\n")
    assert result.stderr == ""


def _articles(session: Session) -> list[tuple[object, ...]]:
    departments = {d.id: d.code for d in session.exec(select(Department)).all()}
    return [
        (
            a.slug,
            a.title,
            a.kind,
            a.audience,
            a.summary,
            a.body,
            a.tags,
            a.status,
            a.verified_on,
            a.video_url,
            departments.get(a.department_id) if a.department_id else None,
            a.questions,
        )
        for a in session.exec(select(Article).order_by(col(Article.slug))).all()
    ]


def test_export_then_import_into_fresh_database_gives_same_articles(
    client: TestClient,
    db: Session,
    settings: Settings,
    sqlite_template: Path,
    starter_pack: None,
    tmp_path: Path,
) -> None:
    make_department(db, "LET")
    # One more article written in the editor, as a browser sends it (CRLF, no final newline),
    # for a department, left as a draft; and one archived.
    sign_in(client, make_user(db, Role.elearning))
    created = client.post(
        "/kb/new",
        data={
            "slug": "commentaire-compose",
            "title": "Le commentaire composé : « méthode »",
            "kind": "guide",
            "audience": "student",
            "department": "LET",
            "status": "draft",
            "tags": "méthode, lettres: bac",
            "summary": "Plan, citations : l'essentiel.",
            "video_url": "https://video.example/commentaire",
            "body": "## Plan\r\n\r\n- Introduction\r\n- Deux parties",
            "questions": "comment je fais mon plan\r\n\r\n« citer un auteur » : comment ?",
            "csrf_token": csrf_from(client.get("/kb/new").text),
        },
    )
    assert created.status_code == 303
    token = csrf_from(client.get("/kb/bien-etre-isolement").text)
    archived = client.post(
        "/kb/bien-etre-isolement/status", data={"status": "archived", "csrf_token": token}
    )
    assert archived.status_code == 303
    _refresh(db)
    before = _articles(db)
    assert len(before) == 48
    # The questions it answers: one per line as typed, blank lines dropped; every starter
    # article ships its own.
    questions = {row[0]: row[-1] for row in before}
    assert questions["commentaire-compose"] == (
        "comment je fais mon plan\n« citer un auteur » : comment ?"
    )
    assert all(
        len(str(q).splitlines()) >= 5
        for slug, q in questions.items()
        if slug != "commentaire-compose"
    )
    assert {row[7] for row in before} == {Status.published, Status.draft, Status.archived}

    exported = _cli(settings, "kb", "export", str(tmp_path / "export"))
    assert exported.exit_code == 0 and "48 articles written" in exported.stdout

    # Re-importing the export into the same database changes nothing.
    same = _cli(settings, "kb", "import", str(tmp_path / "export"))
    assert same.exit_code == 0, same.output
    assert same.stdout.startswith("0 created, 0 updated, 48 unchanged, 0 rejected")

    fresh = tmp_path / "fresh.sqlite3"
    shutil.copyfile(sqlite_template, fresh)
    engine = make_engine(f"sqlite:///{fresh}")
    try:
        with Session(engine) as other:
            make_department(other, "LET")
            report = import_directory(other, tmp_path / "export")
            other.commit()
            assert not report.errors and len(report.created) == 48
            assert _articles(other) == before
    finally:
        engine.dispose()
