"""The `hub` command line: departments, users, demo data, clear errors."""

from __future__ import annotations

from click.testing import CliRunner, Result
from sqlmodel import Session, select

from hub.cli import main
from hub.models import DepartmentReferent, Role, User
from hub.people import get_user_by_email
from hub.settings import Settings


def run(settings: Settings, *args: str, input: str | None = None) -> Result:
    env = {"HUB_DATABASE_URL": settings.effective_database_url, "HUB_ENV": "test"}
    return CliRunner().invoke(main, list(args), env=env, input=input)


def test_create_and_list_departments(settings: Settings, db: Session) -> None:
    assert (
        run(settings, "departments", "create", "--code", "sci", "--name", "Sciences").exit_code == 0
    )
    assert (
        run(settings, "departments", "create", "--code", "LET", "--name", "Lettres").exit_code == 0
    )
    result = run(settings, "departments", "list")
    assert result.exit_code == 0
    assert result.output == "LET\tLettres\nSCI\tSciences\n"


def test_duplicate_department_is_a_clear_error(settings: Settings, db: Session) -> None:
    run(settings, "departments", "create", "--code", "SCI", "--name", "Sciences")
    result = run(settings, "departments", "create", "--code", "SCI", "--name", "Autre")
    assert result.exit_code == 1
    assert "Le département SCI existe déjà." in result.output


def test_create_referent_serving_several_departments(settings: Settings, db: Session) -> None:
    for code in ("SCI", "ART"):
        run(settings, "departments", "create", "--code", code, "--name", code)
    result = run(
        settings,
        "users",
        "create",
        "--email",
        "Ref@College.example",
        "--name",
        "Sophie",
        "--role",
        "referent",
        "--department",
        "SCI",
        "--department",
        "ART",
    )
    assert result.exit_code == 0, result.output
    assert "created referent ref@college.example" in result.output
    user = get_user_by_email(db, "ref@college.example")
    assert user is not None and user.role is Role.referent
    links = db.exec(select(DepartmentReferent).where(DepartmentReferent.user_id == user.id)).all()
    assert len(links) == 2


def test_assign_backup_referent(settings: Settings, db: Session) -> None:
    for code in ("SCI", "LET"):
        run(settings, "departments", "create", "--code", code, "--name", code)
    run(
        settings,
        "users",
        "create",
        "--email",
        "k@college.example",
        "--name",
        "Karim",
        "--role",
        "referent",
        "--department",
        "LET",
    )
    result = run(
        settings,
        "departments",
        "assign",
        "--code",
        "SCI",
        "--email",
        "k@college.example",
        "--backup",
    )
    assert result.exit_code == 0, result.output
    assert "serves SCI as backup" in result.output


def test_teacher_with_two_departments_is_refused(settings: Settings, db: Session) -> None:
    for code in ("SCI", "LET"):
        run(settings, "departments", "create", "--code", code, "--name", code)
    result = run(
        settings,
        "users",
        "create",
        "--email",
        "t@college.example",
        "--name",
        "T",
        "--role",
        "teacher",
        "--department",
        "SCI",
        "--department",
        "LET",
    )
    assert result.exit_code == 1
    assert "--department: Un enseignant ou un étudiant appartient à un seul département." in (
        result.output
    )
    assert db.exec(select(User)).first() is None  # nothing half-created


def test_unknown_department_and_bad_email_are_reported_together(
    settings: Settings, db: Session
) -> None:
    result = run(
        settings,
        "users",
        "create",
        "--email",
        "nope",
        "--name",
        "X",
        "--role",
        "teacher",
        "--department",
        "ZZZ",
    )
    assert result.exit_code == 1
    assert "--email: Adresse e-mail invalide." in result.output
    assert "--department: Département inconnu : ZZZ" in result.output


def test_create_user_with_password_prompt_then_sign_in(settings: Settings, db: Session) -> None:
    run(settings, "departments", "create", "--code", "SCI", "--name", "Sciences")
    result = run(
        settings,
        "users",
        "create",
        "--email",
        "p@college.example",
        "--name",
        "P",
        "--role",
        "teacher",
        "--department",
        "SCI",
        "--password",
        input="a long enough password\na long enough password\n",
    )
    assert result.exit_code == 0, result.output
    user = get_user_by_email(db, "p@college.example")
    assert user is not None and user.password_hash and user.password_hash.startswith("$argon2id$")


def test_demo_load_is_idempotent(settings: Settings, db: Session) -> None:
    first = run(settings, "demo", "load")
    assert first.exit_code == 0
    assert "5 departments, 7 users, 6 exams" in first.output
    assert "3 kind words" in first.output
    second = run(settings, "demo", "load")
    assert "0 departments, 0 users, 0 exams, 0 webinars, 0 questions, 0 kind words" in (
        second.output
    )
    assert len(run(settings, "departments", "list").output.splitlines()) == 5


def test_demo_load_is_refused_in_production(settings: Settings) -> None:
    env = {
        "HUB_DATABASE_URL": settings.effective_database_url,
        "HUB_ENV": "production",
        "HUB_SECRET_KEY": "p" * 40,
    }
    result = CliRunner().invoke(main, ["demo", "load"], env=env)
    assert result.exit_code == 1
    assert "refused in production" in result.output
