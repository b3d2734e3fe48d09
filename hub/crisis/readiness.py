"""Readiness: the pre-flight check before a crisis. Each check says ready or not, why, and
where to fix it. Checks that reach outside (SMTP, Teams) use short timeouts so the page
answers even when a server is down.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from hub import outbox
from hub.crisis.mode import webinar_template
from hub.i18n import N_
from hub.mail import DEFAULT_PORTS, connect
from hub.models import TEAM, Department, DepartmentReferent, ExamSession, User, utcnow
from hub.outbox import TemporaryFailure
from hub.people import require_role
from hub.settings import Settings, SmtpSecurity
from kb.models import Article

# The articles people need on day one (the starter pack's crisis essentials).
STARTER_SLUGS = (
    "basculer-cours-distanciel-checklist",
    "teams-planifier-reunion-cours",
    "capsule-video-enregistrer",
    "moodle-deposer-ressources",
    "examen-acces-etudiant",
    "examen-jour-j-checklist-etudiant",
    "examen-probleme-technique-procedure",
    "referent-contacter",
    "referent-trier-questions",
    "referent-escalader",
    "crise-plan-activation-checklist",
    "communication-crise-modeles",
)


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    ready: bool
    detail: str
    fix_url: str
    fix_label: str


def departments_staffed(session: Session, settings: Settings) -> Check:
    departments = list(session.scalars(select(Department).order_by(col(Department.code))))
    links = session.execute(
        select(DepartmentReferent.department_id, DepartmentReferent.is_backup)  # type: ignore[call-overload]
        .join(User, col(User.id) == col(DepartmentReferent.user_id))
        .where(col(User.is_active).is_(True))
    ).all()
    main = {dept for dept, backup in links if not backup}
    backup = {dept for dept, backup in links if backup}
    problems = []
    for department in departments:
        missing = []
        if department.id not in main:
            missing.append("référent")
        if department.id not in backup:
            missing.append("suppléant")
        if missing:
            problems.append(f"{department.code} (sans {' ni '.join(missing)})")
    if not departments:
        return Check(
            "departments",
            N_("Chaque département a un référent et un suppléant"),
            False,
            "aucun département",
            "/admin/people",
            N_("Créer les départements"),
        )
    return Check(
        "departments",
        N_("Chaque département a un référent et un suppléant"),
        not problems,
        ("à compléter : " + ", ".join(problems))
        if problems
        else f"{len(departments)} départements couverts",
        "/departments",
        N_("Nommer les référents"),
    )


def smtp_reachable(session: Session, settings: Settings) -> Check:
    title = N_("Serveur d'e-mail joignable")
    if not settings.smtp_host:
        return Check(
            "smtp",
            title,
            False,
            "HUB_SMTP_HOST n'est pas configuré : les e-mails restent dans la file",
            "/admin/outbox",
            N_("Voir les messages en attente"),
        )
    port = settings.smtp_port or DEFAULT_PORTS[SmtpSecurity(settings.smtp_security)]
    try:
        connection = connect(settings, timeout=min(settings.smtp_timeout_seconds, 5.0))
        code, _ = connection.noop()
        connection.quit()
    except (TemporaryFailure, OSError, smtplib.SMTPException) as exc:
        return Check(
            "smtp",
            title,
            False,
            f"{settings.smtp_host}:{port} injoignable ({exc})",
            "/admin/outbox",
            N_("Voir les messages en attente"),
        )
    return Check(
        "smtp",
        title,
        code == 250,
        f"{settings.smtp_host}:{port} répond",
        "/admin/outbox",
        N_("Voir les messages"),
    )


def teams_reachable(session: Session, settings: Settings) -> Check:
    """`hub teams check`, with the same plain-words answers (a webhook counts as configured:
    it can only be verified by posting, which the test announcement does)."""
    from hub.teams.check import run_check

    engine = session.get_bind()
    report = run_check(settings, engine=engine if isinstance(engine, Engine) else None)
    problems = [
        line.removeprefix("PROBLEM").strip() for line in report.lines if line.startswith("PROBLEM")
    ]
    return Check(
        "teams",
        N_("Canal Teams de crise joignable"),
        not problems,
        "; ".join(problems) if problems else "accès vérifié (hub teams check)",
        "/admin/outbox?channel=teams",
        N_("Voir les publications Teams"),
    )


def timetable_imported(session: Session, settings: Settings) -> Check:
    upcoming = session.scalar(
        select(func.count()).select_from(ExamSession).where(col(ExamSession.starts_at) >= utcnow())
    )
    return Check(
        "exams",
        N_("Calendrier des examens importé"),
        bool(upcoming),
        f"{upcoming} examens à venir" if upcoming else "aucun examen à venir",
        "/exams/import",
        N_("Importer le calendrier"),
    )


def starter_articles_reviewed(session: Session, settings: Settings) -> Check:
    limit = date.today() - timedelta(days=settings.readiness_review_days)
    rows = session.execute(
        select(Article.slug, Article.status, Article.verified_on).where(  # type: ignore[call-overload]
            col(Article.slug).in_(STARTER_SLUGS)
        )
    ).all()
    found = {slug: (status, verified) for slug, status, verified in rows}
    stale = []
    for slug in STARTER_SLUGS:
        status, verified = found.get(slug, (None, None))
        if status is None:
            stale.append(f"{slug} (absent)")
        elif getattr(status, "value", status) != "published":
            stale.append(f"{slug} (non publié)")
        elif verified is None or verified < limit:
            stale.append(f"{slug} (vérifié {verified or 'jamais'})")
    return Check(
        "articles",
        N_("Articles essentiels relus récemment"),
        not stale,
        (f"à relire (plus de {settings.readiness_review_days} jours) : " + ", ".join(stale))
        if stale
        else f"{len(STARTER_SLUGS)} articles relus depuis le {limit.isoformat()}",
        "/kb",
        N_("Relire les articles"),
    )


def webinar_template_ready(session: Session, settings: Settings) -> Check:
    template = webinar_template(session)
    return Check(
        "webinars",
        N_("Modèle de la série de webinaires prêt"),
        template is not None,
        f"« {template.title} » : {template.pattern}, {template.weeks} semaines"
        if template
        else "aucun modèle enregistré",
        "/crisis#template",
        N_("Préparer le modèle"),
    )


def test_announcement_delivered(session: Session, settings: Settings) -> Check:
    since = utcnow() - timedelta(days=settings.readiness_review_days)
    delivered = session.scalars(
        select(col(outbox.OutboxMessage.channel)).where(
            col(outbox.OutboxMessage.kind) == "crisis.test",
            col(outbox.OutboxMessage.status) == outbox.OutboxStatus.sent.value,
            col(outbox.OutboxMessage.sent_at) >= since,
        )
    ).all()
    channels = sorted(set(delivered))
    return Check(
        "announcement",
        N_("Annonce de test délivrée"),
        bool(channels),
        ("délivrée par " + ", ".join(channels)) if channels else "aucune annonce de test délivrée",
        "/crisis/readiness#test",
        N_("Envoyer une annonce de test"),
    )


CHECKS: tuple[Callable[[Session, Settings], Check], ...] = (
    departments_staffed,
    teams_reachable,
    smtp_reachable,
    timetable_imported,
    starter_articles_reviewed,
    webinar_template_ready,
    test_announcement_delivered,
)


def run_checks(session: Session, settings: Settings, *, actor: User) -> list[Check]:
    require_role(actor, *TEAM)
    return [check(session, settings) for check in CHECKS]
