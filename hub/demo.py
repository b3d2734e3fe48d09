"""Demo data for `make run`: five departments and demo accounts for every role (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from hub.models import Role, User
from hub.people import (
    assign_referent,
    create_department,
    create_user,
    get_department,
    get_user_by_email,
    list_departments,
)

DEMO_DOMAIN = "demo.hub.example"  # .example is reserved: these addresses can never be real

DEMO_DEPARTMENTS = (
    ("SCI", "Sciences et technologies"),
    ("LET", "Lettres et langues"),
    ("ECO", "Économie et gestion"),
    ("SAN", "Santé et soins infirmiers"),
    ("ART", "Arts et design"),
)


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    role: Role
    departments: tuple[str, ...] = ()
    backup_for: tuple[str, ...] = ()


def demo_accounts() -> list[DemoAccount]:
    """Demo accounts have no password: in demo mode the login page signs in as them."""
    accounts = [
        DemoAccount(f"equipe.elearning@{DEMO_DOMAIN}", "Équipe e-learning", Role.elearning),
        DemoAccount(f"etudiant@{DEMO_DOMAIN}", "Léa Étudiante", Role.student, ("SCI",)),
        DemoAccount(f"enseignant@{DEMO_DOMAIN}", "Marc Enseignant", Role.teacher, ("SCI",)),
        DemoAccount(
            f"referent.sci@{DEMO_DOMAIN}", "Sophie Référente", Role.referent, ("SCI", "ART")
        ),
        DemoAccount(
            f"referent.let@{DEMO_DOMAIN}",
            "Karim Référent",
            Role.referent,
            ("LET", "ECO"),
            backup_for=("SCI",),
        ),
        DemoAccount(f"referent.san@{DEMO_DOMAIN}", "Nadia Référente", Role.referent, ("SAN",)),
        DemoAccount(f"enseignante.let@{DEMO_DOMAIN}", "Claire Enseignante", Role.teacher, ("LET",)),
    ]
    return accounts


def load_demo(session: Session) -> dict[str, int]:
    """Create what is missing; never touches what exists. Returns counts of created rows."""
    created = {"departments": 0, "users": 0}
    existing = {d.code for d in list_departments(session)}
    for code, name in DEMO_DEPARTMENTS:
        if code not in existing:
            create_department(session, code=code, name=name)
            created["departments"] += 1
    for account in demo_accounts():
        user: User | None = get_user_by_email(session, account.email)
        if user is None:
            user = create_user(
                session,
                email=account.email,
                name=account.name,
                role=account.role,
                departments=account.departments,
            )
            created["users"] += 1
        for code in account.backup_for:
            assign_referent(
                session, department=get_department(session, code), user=user, backup=True
            )
    session.flush()
    return created
