"""The hub's periodic jobs: the one list handed to the scheduler (`periodic_jobs()`).

Each job imports what it needs when it runs, so that importing this module (every web
worker does, to hand the list to its scheduler) stays cheap. A new job is a function here
and a line in `periodic_jobs()`.

Fencing: the scheduler checks its lock before each run; a job that does several units of
work calls `still_leader()` before each one (each outbox row in hub/outbox.py, each reminder
in webinars/reminders.py, each step here) and stops when it says False."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.engine import Engine

from hub.scheduler import PeriodicJob, still_leader
from hub.settings import Settings

log = logging.getLogger(__name__)
JOB_RUN_RETENTION = timedelta(days=7)  # enough to investigate last week's missed reminder


def periodic_jobs() -> list[PeriodicJob]:
    """Every periodic job of the deployment, with its interval from the settings."""
    return [
        PeriodicJob("heartbeat", lambda s: s.scheduler_heartbeat_seconds, heartbeat),
        PeriodicJob("prune-history", lambda s: 3600, prune_history),
        PeriodicJob("deliver-outbox", lambda s: s.outbox_interval_seconds, deliver_outbox),
        PeriodicJob("questions-sweep", lambda s: s.questions_sweep_seconds, sweep_questions),
        PeriodicJob(
            "webinar-reminders",
            lambda s: s.webinar_reminder_interval_seconds,
            send_webinar_reminders,
        ),
        PeriodicJob("teams-feed", lambda s: s.teams_feed_refresh_seconds, refresh_teams_feed),
    ]


def heartbeat(engine: Engine, settings: Settings) -> None:
    """Does nothing but get recorded: its JobRun rows show that the scheduler is alive."""


def prune_history(engine: Engine, settings: Settings) -> None:
    from sqlalchemy import delete
    from sqlmodel import col

    from hub.auth import prune_login_attempts
    from hub.db import session_scope
    from hub.models import JobRun, utcnow
    from hub.questions.attachments import prune_orphan_files

    with session_scope(engine) as session:
        prune_login_attempts(session, settings=settings)
        session.execute(delete(JobRun).where(col(JobRun.started_at) < utcnow() - JOB_RUN_RETENTION))
    if not still_leader():
        return
    with session_scope(engine, write=False) as session:
        report = prune_orphan_files(session, data_dir=settings.data_dir)
    if report.removed:
        log.info("attachments: %d unreferenced files removed", report.removed)


def deliver_outbox(engine: Engine, settings: Settings) -> None:
    from hub.transports import deliver_outbox as deliver

    report = deliver(engine, settings)
    if report.errors:
        log.warning(
            "outbox: %d sent, %d to retry, %d failed", report.sent, report.retried, report.failed
        )


def sweep_questions(engine: Engine, settings: Settings) -> None:
    """Question SLAs: automatic escalations and reminder digests (hub/questions/escalation.py)."""
    from hub.models import utcnow
    from hub.questions.escalation import sweep

    report = sweep(engine, utcnow(), settings)
    if report.escalated or report.central_overdue:
        log.info(
            "questions: %d escalated, %d over the central target",
            len(report.escalated),
            len(report.central_overdue),
        )


def send_webinar_reminders(engine: Engine, settings: Settings) -> None:
    """Webinar reminder mails (webinars/reminders.py): each one exactly once."""
    from hub.models import utcnow
    from webinars.reminders import process_due

    report = process_due(engine, utcnow(), settings=settings)
    if report.sent:
        log.info("webinars: %d reminders queued", report.sent)


def refresh_teams_feed(engine: Engine, settings: Settings) -> None:
    """The crisis channel's recent messages (hub/teams/feed.py; a no-op without Teams)."""
    from hub.teams.feed import refresh_job

    refresh_job(engine, settings)
