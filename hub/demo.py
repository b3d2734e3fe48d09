"""Demo data for `make run`: five departments and demo accounts for every role (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from hub.exams.importer import LOCAL_TIME
from hub.models import ExamSession, ExamStatus, Platform, Role, User, id_of
from hub.people import (
    assign_referent,
    create_department,
    create_user,
    get_department,
    get_user_by_email,
    list_departments,
)
from kb.analyzer import analyzed

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


def load_demo(session: Session, *, base_url: str) -> dict[str, int]:
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
    created["exams"] = load_demo_exams(session)
    created["webinars"] = load_demo_webinars(session)
    created["questions"] = load_demo_questions(session, base_url=base_url)
    created["kind words"] = load_demo_kind_words(session)
    return created


def load_demo_exams(session: Session) -> int:
    """A timetable around today (only into an empty exam table): some exams today, some
    tomorrow, one moved and one cancelled, so every student page has something to show."""
    if session.exec(select(ExamSession)).first() is not None:
        return 0
    departments = {d.code: d for d in list_departments(session)}
    today = datetime.now(LOCAL_TIME).replace(minute=0, second=0, microsecond=0)
    rows = [
        ("MATH101", "Mathématiques générales", "SCI", today.replace(hour=9), 120, "moodle"),
        ("CHIM210", "Chimie organique", "SCI", today + timedelta(hours=2), 90, "moodle"),
        ("LANG120", "Anglais des affaires", "LET", today.replace(hour=14), 60, "teams"),
        (
            "ECO230",
            "Statistiques appliquées",
            "ECO",
            today.replace(hour=9) + timedelta(days=1),
            180,
            "moodle",
        ),
        (
            "SAN105",
            "Anatomie et physiologie",
            "SAN",
            today.replace(hour=13) + timedelta(days=1),
            120,
            "moodle",
        ),
        (
            "ART140",
            "Histoire de l'art",
            "ART",
            today.replace(hour=10) + timedelta(days=2),
            90,
            "teams",
        ),
    ]
    for code, name, department, start, duration, platform in rows:
        exam = ExamSession(
            course_code=code,
            course_name=name,
            department_id=id_of(departments[department]),
            starts_at=start,
            duration_minutes=duration,
            platform=Platform(platform),
            access_url=f"https://moodle.college.example/mod/quiz/view.php?id={code.lower()}"
            if platform == "moodle"
            else "https://teams.microsoft.com/l/meetup-join/demo",
            instructions_slug="examen-acces-etudiant",
            contact_email=f"examens.{department.lower()}@{DEMO_DOMAIN}",
            search_text=analyzed(f"{code} {name}"),
        )
        session.add(exam)
    session.flush()
    moved = session.exec(select(ExamSession).where(ExamSession.course_code == "ECO230")).one()
    moved.previous_starts_at = moved.starts_at
    moved.starts_at = moved.starts_at + timedelta(hours=4)
    moved.status = ExamStatus.moved
    moved.status_note = "Déplacé l'après-midi à cause de la maintenance de Moodle."
    cancelled = session.exec(select(ExamSession).where(ExamSession.course_code == "ART140")).one()
    cancelled.status = ExamStatus.cancelled
    cancelled.status_note = "Remplacé par un travail à remettre : consignes sur Moodle."
    session.flush()
    return len(rows)


def load_demo_webinars(session: Session) -> int:
    """A weekly webinar series (Tuesday and Thursday 15:00, Wednesday 10:00) over the next
    two weeks, hosted by the e-learning team (only into an empty series table)."""
    from webinars.models import WebinarSeries
    from webinars.series import create_series

    if session.exec(select(WebinarSeries)).first() is not None:
        return 0
    team = get_user_by_email(session, f"equipe.elearning@{DEMO_DOMAIN}")
    if team is None:
        return 0
    today = datetime.now(LOCAL_TIME).date()
    _series, sessions = create_series(
        session,
        actor=team,
        title="Les rendez-vous de l'enseignement à distance",
        description=(
            "Une heure pour poser vos questions sur Moodle, Teams et l'évaluation à distance. "
            "Envoyez vos questions à l'avance : les plus votées passent en premier."
        ),
        pattern="mardi 15:00, mercredi 10:00, jeudi 15:00",
        starts_on=today + timedelta(days=1),
        ends_on=today + timedelta(days=14),
        duration_minutes=60,
        capacity=100,
        hosts=[team.email],
    )
    for webinar in sessions:
        webinar.join_url = "https://teams.microsoft.com/l/meetup-join/demo-webinaire"
        session.add(webinar)
    session.flush()
    return len(sessions)


def load_demo_questions(session: Session, *, base_url: str) -> int:
    """A few teacher questions in various states (only into an empty question table): one
    waiting, one answered, one resolved, one passed to the e-learning team."""
    from pathlib import Path

    from hub.questions import answers, asking, escalation
    from hub.questions.models import Question

    if session.exec(select(Question)).first() is not None:
        return 0
    teacher = get_user_by_email(session, f"enseignant@{DEMO_DOMAIN}")
    colleague = get_user_by_email(session, f"enseignante.let@{DEMO_DOMAIN}")
    referent = get_user_by_email(session, f"referent.sci@{DEMO_DOMAIN}")
    referent_let = get_user_by_email(session, f"referent.let@{DEMO_DOMAIN}")
    if not (teacher and colleague and referent and referent_let):
        return 0
    unused = Path("var")  # no attachments in the demo questions

    def ask(user: User, title: str, body: str) -> Question:
        return asking.ask(
            session, actor=user, title=title, body=body, data_dir=unused, base_url=base_url
        )

    ask(
        teacher,
        "Mes étudiants ne voient pas le devoir sur Moodle",
        "J'ai créé un devoir « Rapport de labo 3 » hier soir mais les étudiants disent qu'il "
        "n'apparaît pas dans le cours. La date d'ouverture est bien aujourd'hui 8 h.",
    )
    answered = ask(
        teacher,
        "Enregistrer une réunion Teams pour les absents",
        "Comment enregistrer mon cours dans Teams et où retrouver la vidéo ensuite ?",
    )
    answers.answer(
        session,
        actor=referent,
        question_id=id_of(answered),
        body="Pendant la réunion : « … » > « Démarrer l'enregistrement ». La vidéo apparaît "
        "ensuite dans la conversation de la réunion (et dans OneDrive de l'organisateur).",
        data_dir=unused,
        base_url=base_url,
    )
    resolved = ask(
        colleague,
        "Quiz : les étudiants tiers-temps ont-ils plus de temps ?",
        "Je dois donner 30 minutes de plus à trois étudiants pour le quiz de jeudi.",
    )
    answers.answer(
        session,
        actor=referent_let,
        question_id=id_of(resolved),
        body="Oui : dans le quiz, « Dérogations utilisateur », ajoutez 30 minutes pour chacun.",
        data_dir=unused,
        base_url=base_url,
    )
    answers.resolve(session, actor=colleague, question_id=id_of(resolved))
    escalated = ask(
        colleague,
        "Erreur 500 en déposant une vidéo de 2 Go",
        "Le dépôt de ma capsule vidéo échoue toujours à 90 % avec une erreur 500.",
    )
    escalation.escalate(
        session,
        actor=referent_let,
        question_id=id_of(escalated),
        reason="Limite de taille côté serveur : seule l'équipe e-learning peut la changer.",
        base_url=base_url,
    )
    session.flush()
    return 4


def load_demo_kind_words(session: Session) -> int:
    """Two approved notes on the kind-words wall and one waiting for moderation (only into
    an empty wall)."""
    from hub.kind_words import KindWord, leave, moderate

    if session.exec(select(KindWord)).first() is not None:
        return 0
    team = get_user_by_email(session, f"equipe.elearning@{DEMO_DOMAIN}")
    teacher = get_user_by_email(session, f"enseignant@{DEMO_DOMAIN}")
    referent = get_user_by_email(session, f"referent.sci@{DEMO_DOMAIN}")
    if team is None or teacher is None or referent is None:
        return 0
    notes = [
        (
            referent,
            "Merci à toutes et tous pour votre patience cette semaine : on y arrive !",
            True,
        ),
        (teacher, "Premier cours en visio réussi grâce à la check-list. Merci l'équipe !", True),
        (teacher, "Courage aux collègues qui corrigent les examens à distance ce week-end.", None),
    ]
    for author, body, approve in notes:
        word = leave(session, actor=author, body=body, share_on_teams=False)
        if approve is not None:
            moderate(session, word.id or 0, actor=team, approve=approve)
    return len(notes)
