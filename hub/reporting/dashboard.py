"""The e-learning team's numbers: each metric is a `Table` (title, columns, rows) computed
by SQL over a date range and optionally one department, shown as a chart and as a table,
and exportable as CSV. The same functions serve the page, the CSV export and the tests.

Dates are local days (Europe/Brussels); a range is inclusive of both ends.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlmodel import Session, col

from hub.errors import InvalidInput
from hub.i18n import N_
from hub.models import TEAM, Department, Role, User, utcnow
from hub.people import require_role
from hub.questions.models import Escalation, Question, QuestionStatus, QuestionSuggestion
from hub.questions.sla import Profile
from hub.questions.sla import profile as sla_profile
from hub.reporting.visits import ROLES, VisitCounter
from hub.settings import Settings
from kb.models import Article, ArticleFeedback, SearchLog
from webinars.models import WebinarRegistration, WebinarSession

LOCAL = ZoneInfo("Europe/Brussels")
MAX_DAYS = 366
TOP = 15


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    department: Department | None = None
    sla: Profile = field(kw_only=True)  # the response-time targets the report judges against

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def utc_start(self) -> datetime:
        return datetime.combine(self.start, time.min, LOCAL).astimezone(UTC)

    @property
    def utc_end(self) -> datetime:
        """Exclusive: the first instant after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time.min, LOCAL).astimezone(UTC)


def parse_period(
    session: Session, start: str, end: str, department: str, *, today: date, settings: Settings
) -> Period:
    """The filter form's values, checked (last 14 days by default)."""
    errors: dict[str, str] = {}

    def day(value: str, name: str, default: date) -> date:
        if not value:
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors[name] = N_("date attendue au format AAAA-MM-JJ")
            return default

    end_day = day(end, "end", today)
    start_day = day(start, "start", end_day - timedelta(days=13))
    if start_day > end_day:
        errors["start"] = N_("le début doit précéder la fin")
    elif (end_day - start_day).days >= MAX_DAYS:
        errors["start"] = N_("une année au plus")
    chosen = None
    if department:
        chosen = session.scalars(
            select(Department).where(col(Department.code) == department)
        ).first()
        if chosen is None:
            errors["department"] = N_("département inconnu")
    if errors:
        raise InvalidInput(N_("filtres invalides"), errors)
    return Period(start_day, end_day, chosen, sla=sla_profile(session, settings))


# What the page shows above each column (translated there). The CSV keeps the technical
# names below as its header: stable for the spreadsheets and scripts that read it.
COLUMN_LABELS = {
    "date": N_("Date"),
    "anonymous": N_("Anonymes"),
    "student": N_("Étudiants"),
    "teacher": N_("Enseignants"),
    "referent": N_("Référents"),
    "elearning": N_("Équipe e-learning"),
    "total": N_("Total"),
    "area": N_("Espace"),
    "views": N_("Pages vues"),
    "query": N_("Recherche"),
    "searches": N_("Recherches"),
    "without_result": N_("Sans résultat"),
    "with_click": N_("Avec un clic"),
    "slug": N_("Adresse"),
    "title": N_("Titre"),
    "not_helpful": N_("Pas utile"),
    "helpful": N_("Utile"),
    "role": N_("Rôle"),
    "accounts": N_("Comptes"),
    "department": N_("Département"),
    "open": N_("Ouvertes"),
    "urgent": N_("Urgentes"),
    "escalated": N_("Escaladées"),
    "oldest_waiting_hours": N_("Plus longue attente (h)"),
    "asked": N_("Posées"),
    "answered": N_("Répondues"),
    "median_hours": N_("Délai médian (h)"),
    "within_target": N_("Dans la cible"),
    "target_hours": N_("Cible (h)"),
    "manual": N_("Manuelles"),
    "automatic": N_("Automatiques"),
    "solved_by_suggestion": N_("Résolues par une suggestion"),
    "questions_asked": N_("Questions posées"),
    "deflection_percent": N_("Taux évité (%)"),
    "starts_at": N_("Début"),
    "status": N_("État"),
    "capacity": N_("Places"),
    "registered": N_("Inscrits"),
    "waitlisted": N_("En liste d'attente"),
    "attended": N_("Présents"),
}


@dataclass
class Table:
    key: str  # used in URLs: /dashboard/{key}.csv
    title: str
    columns: list[str]  # technical names: the CSV header
    rows: list[list[object]] = field(default_factory=list)
    note: str = ""  # e.g. "not per department"

    @property
    def labels(self) -> list[str]:
        """The columns as people read them (French; translated where shown)."""
        return [COLUMN_LABELS.get(column, column) for column in self.columns]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([_csv_cell(value) for value in row])
        return out.getvalue()


def _csv_cell(value: object) -> object:
    """Neutralise spreadsheet formulas in user text (=, +, -, @ at the start)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --- Metrics -----------------------------------------------------------------------------


def visits_per_day(session: Session, period: Period) -> Table:
    rows = session.execute(
        select(VisitCounter.day, VisitCounter.role, func.sum(VisitCounter.views))  # type: ignore[call-overload]
        .where(col(VisitCounter.day) >= period.start, col(VisitCounter.day) <= period.end)
        .group_by(VisitCounter.day, VisitCounter.role)
    ).all()
    counts = {(day, role): int(total) for day, role, total in rows}
    table = Table(
        "visits",
        N_("Pages vues par jour et par rôle"),
        ["date", *ROLES, "total"],
        note=N_("Compteurs agrégés, tous départements : aucune trace individuelle n'est gardée."),
    )
    for day in period.days:
        values = [counts.get((day, role), 0) for role in ROLES]
        table.rows.append([day.isoformat(), *values, sum(values)])
    return table


def visits_per_area(session: Session, period: Period) -> Table:
    rows = session.execute(
        select(VisitCounter.area, func.sum(VisitCounter.views))  # type: ignore[call-overload]
        .where(col(VisitCounter.day) >= period.start, col(VisitCounter.day) <= period.end)
        .group_by(VisitCounter.area)
        .order_by(func.sum(VisitCounter.views).desc(), VisitCounter.area)
    ).all()
    return Table(
        "areas",
        N_("Pages vues par espace"),
        ["area", "views"],
        [[area, int(total)] for area, total in rows],
    )


def _searches(period: Period) -> list[object]:
    return [
        col(SearchLog.created_at) >= period.utc_start,
        col(SearchLog.created_at) < period.utc_end,
    ]


def top_searches(session: Session, period: Period) -> Table:
    count = func.count()
    rows = session.execute(
        select(  # type: ignore[call-overload]
            SearchLog.normalized,
            count,
            func.sum(case((col(SearchLog.result_count) == 0, 1), else_=0)),
            func.sum(case((col(SearchLog.clicked_slug).is_not(None), 1), else_=0)),
        )
        .where(*_searches(period), col(SearchLog.normalized) != "")
        .group_by(SearchLog.normalized)
        .order_by(count.desc(), SearchLog.normalized)
        .limit(TOP)
    ).all()
    return Table(
        "searches",
        N_("Recherches les plus fréquentes"),
        ["query", "searches", "without_result", "with_click"],
        [[query, int(n), int(zero), int(clicked)] for query, n, zero, clicked in rows],
        note=N_("Tous départements (les recherches ne sont pas rattachées à une personne)."),
    )


def zero_result_searches(session: Session, period: Period) -> Table:
    count = func.count()
    rows = session.execute(
        select(SearchLog.normalized, count)  # type: ignore[call-overload]
        .where(*_searches(period), col(SearchLog.result_count) == 0)
        .group_by(SearchLog.normalized)
        .order_by(count.desc(), SearchLog.normalized)
        .limit(TOP)
    ).all()
    return Table(
        "no-result",
        N_("Recherches sans résultat"),
        ["query", "searches"],
        [[query, int(n)] for query, n in rows],
        note=N_("À transformer en articles : ce sont les lacunes du contenu."),
    )


def unhelpful_articles(session: Session, period: Period) -> Table:
    unhelpful = func.sum(case((col(ArticleFeedback.helpful).is_(False), 1), else_=0))
    helpful = func.sum(case((col(ArticleFeedback.helpful).is_(True), 1), else_=0))
    query = (
        select(Article.slug, Article.title, unhelpful, helpful)  # type: ignore[call-overload]
        .join(ArticleFeedback, col(ArticleFeedback.article_id) == col(Article.id))
        .where(
            col(ArticleFeedback.created_at) >= period.utc_start,
            col(ArticleFeedback.created_at) < period.utc_end,
        )
        .group_by(Article.slug, Article.title)
        .having(unhelpful > 0)
        .order_by(unhelpful.desc(), Article.slug)
        .limit(TOP)
    )
    if period.department is not None:
        query = query.where(
            and_(
                col(Article.department_id).is_(None)
                | (col(Article.department_id) == period.department.id)
            )
        )
    rows = session.execute(query).all()
    return Table(
        "unhelpful",
        N_("Articles jugés peu utiles"),
        ["slug", "title", "not_helpful", "helpful"],
        [[slug, title, int(no), int(yes)] for slug, title, no, yes in rows],
    )


def people_by_role(session: Session, period: Period) -> Table:
    query = select(User.role, func.count()).where(col(User.is_active).is_(True))  # type: ignore[call-overload]
    if period.department is not None:
        query = query.where(col(User.department_id) == period.department.id)
    rows = session.execute(query.group_by(User.role)).all()
    counts = {getattr(role, "value", role): int(n) for role, n in rows}
    return Table(
        "people",
        N_("Comptes actifs par rôle"),
        ["role", "accounts"],
        [[role.value, counts.get(role.value, 0)] for role in Role],
    )


def _department_filter(period: Period, column: Any) -> list[Any]:
    return [] if period.department is None else [column == period.department.id]


def open_questions(session: Session, period: Period) -> Table:
    """Questions waiting now, per department, with the oldest one's wait (wall-clock hours)."""
    now = utcnow()
    rows = session.execute(
        select(  # type: ignore[call-overload]
            Department.code,
            func.count(col(Question.id)),
            func.sum(case((col(Question.priority) == "urgent", 1), else_=0)),
            func.sum(case((col(Question.level) >= 1, 1), else_=0)),
            func.min(Question.clock_started_at),
        )
        .join(Question, col(Question.department_id) == col(Department.id))
        .where(
            col(Question.status) == QuestionStatus.open.value,
            *_department_filter(period, col(Question.department_id)),
        )
        .group_by(Department.code)
        .order_by(func.count(col(Question.id)).desc(), Department.code)
    ).all()
    return Table(
        "open-questions",
        N_("Questions ouvertes par département"),
        ["department", "open", "urgent", "escalated", "oldest_waiting_hours"],
        [
            [
                code,
                int(count),
                int(urgent),
                int(escalated),
                round((now - _aware(oldest)).total_seconds() / 3600, 1) if oldest else 0,
            ]
            for code, count, urgent, escalated, oldest in rows
        ],
        note=N_("État actuel, quelle que soit la période choisie."),
    )


def first_responses(session: Session, period: Period) -> Table:
    """Questions asked in the period: first response time in business hours vs the target."""
    current = period.sla
    questions = session.execute(
        select(  # type: ignore[call-overload]
            Department.code, Question.clock_started_at, Question.first_response_at
        )
        .join(Department, col(Department.id) == col(Question.department_id))
        .where(
            col(Question.created_at) >= period.utc_start,
            col(Question.created_at) < period.utc_end,
            col(Question.status) != QuestionStatus.merged.value,
            *_department_filter(period, col(Question.department_id)),
        )
    ).all()
    target = current.referent_hours
    stats: dict[str, list[float | None]] = {}
    for code, started, responded in questions:
        hours = (
            current.waited(_aware(started), _aware(responded)).total_seconds() / 3600
            if responded
            else None
        )
        stats.setdefault(code, []).append(hours)
    table = Table(
        "first-response",
        N_("Premières réponses des référents (heures ouvrées)"),
        ["department", "asked", "answered", "median_hours", "within_target", "target_hours"],
        note=N_("Cible du profil en cours (normal ou crise)."),
    )
    for code in sorted(stats):
        answered = sorted(h for h in stats[code] if h is not None)
        median = answered[len(answered) // 2] if answered else 0.0
        within = sum(1 for h in answered if h <= target)
        table.rows.append([code, len(stats[code]), len(answered), round(median, 1), within, target])
    return table


def escalations_per_day(session: Session, period: Period) -> Table:
    query = (
        select(Escalation.created_at, Escalation.automatic)  # type: ignore[call-overload]
        .join(Question, col(Question.id) == col(Escalation.question_id))
        .where(
            col(Escalation.created_at) >= period.utc_start,
            col(Escalation.created_at) < period.utc_end,
            *_department_filter(period, col(Question.department_id)),
        )
    )
    counts: Counter[tuple[date, bool]] = Counter()
    for created, automatic in session.execute(query).all():
        counts[(_aware(created).astimezone(LOCAL).date(), bool(automatic))] += 1
    return Table(
        "escalations",
        N_("Escalades vers l'équipe e-learning"),
        ["date", "manual", "automatic"],
        [[day.isoformat(), counts[(day, False)], counts[(day, True)]] for day in period.days],
    )


def deflection(session: Session, period: Period) -> Table:
    """Solved by a suggested article without asking, against questions actually asked."""
    solved = (
        session.scalar(
            select(func.count(func.distinct(QuestionSuggestion.draft_key))).where(
                col(QuestionSuggestion.solved_at) >= period.utc_start,
                col(QuestionSuggestion.solved_at) < period.utc_end,
                *_department_filter(period, col(QuestionSuggestion.department_id)),
            )
        )
        or 0
    )
    asked = (
        session.scalar(
            select(func.count(col(Question.id))).where(
                col(Question.created_at) >= period.utc_start,
                col(Question.created_at) < period.utc_end,
                col(Question.source) != "exam",
                *_department_filter(period, col(Question.department_id)),
            )
        )
        or 0
    )
    rate = round(100 * solved / (solved + asked), 1) if solved + asked else 0.0
    return Table(
        "deflection",
        N_("Questions évitées par les articles suggérés"),
        ["solved_by_suggestion", "questions_asked", "deflection_percent"],
        [[int(solved), int(asked), rate]],
    )


def webinar_attendance(session: Session, period: Period) -> Table:
    registered = func.sum(case((col(WebinarRegistration.status) == "registered", 1), else_=0))
    waitlisted = func.sum(case((col(WebinarRegistration.status) == "waitlisted", 1), else_=0))
    attended = func.sum(case((col(WebinarRegistration.attended).is_(True), 1), else_=0))
    rows = session.execute(
        select(  # type: ignore[call-overload]
            WebinarSession.starts_at,
            WebinarSession.title,
            WebinarSession.capacity,
            WebinarSession.status,
            registered,
            waitlisted,
            attended,
        )
        .outerjoin(
            WebinarRegistration, col(WebinarRegistration.session_id) == col(WebinarSession.id)
        )
        .where(
            col(WebinarSession.starts_at) >= period.utc_start,
            col(WebinarSession.starts_at) < period.utc_end,
        )
        .group_by(
            WebinarSession.id,
            WebinarSession.starts_at,
            WebinarSession.title,
            WebinarSession.capacity,
            WebinarSession.status,
        )
        .order_by(WebinarSession.starts_at)
    ).all()
    return Table(
        "webinars",
        N_("Webinaires : inscriptions et présence"),
        ["starts_at", "title", "status", "capacity", "registered", "waitlisted", "attended"],
        [
            [
                _aware(starts).astimezone(LOCAL).strftime("%Y-%m-%d %H:%M"),
                title,
                status,
                int(capacity),
                int(reg or 0),
                int(wait or 0),
                int(att or 0),
            ]
            for starts, title, capacity, status, reg, wait, att in rows
        ],
        note=N_("Tous départements."),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


Metric = Callable[[Session, Period], Table]
# Later sections (questions, webinars) register theirs in `METRICS` from their modules.
METRICS: dict[str, Metric] = {
    "visits": visits_per_day,
    "areas": visits_per_area,
    "searches": top_searches,
    "no-result": zero_result_searches,
    "unhelpful": unhelpful_articles,
    "people": people_by_role,
    "open-questions": open_questions,
    "first-response": first_responses,
    "escalations": escalations_per_day,
    "deflection": deflection,
    "webinars": webinar_attendance,
}


# Which columns a horizontal bar chart shows for a table: (label column, value column).
# "visits" is drawn as stacked bars by role; tables not listed are shown as tables only.
BAR_CHARTS: dict[str, tuple[int, int]] = {
    "areas": (0, 1),
    "searches": (0, 1),
    "no-result": (0, 1),
    "unhelpful": (1, 2),
    "people": (0, 1),
    "open-questions": (0, 1),
    "first-response": (0, 3),
    "webinars": (1, 4),
}


def compute(session: Session, period: Period, *, actor: User) -> list[Table]:
    require_role(actor, *TEAM)
    return [metric(session, period) for metric in METRICS.values()]


def compute_one(session: Session, key: str, period: Period, *, actor: User) -> Table:
    require_role(actor, *TEAM)
    if key not in METRICS:
        from hub.errors import NotFound

        raise NotFound("tableau inconnu")
    return METRICS[key](session, period)


def department_codes(session: Session) -> Sequence[str]:
    return [
        row[0]
        for row in session.execute(select(Department.code).order_by(Department.code))  # type: ignore[call-overload]
    ]
