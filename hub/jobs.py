"""The hub's periodic jobs, registered with the scheduler (later packages add theirs here).

Fencing: the scheduler checks its lock before each run; a job that does several units of
work calls `still_leader()` before each one (each outbox row in hub/outbox.py, each reminder
in webinars/reminders.py, each step here) and stops when it says False."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import col

import hub.teams.jobs  # noqa: F401  (Teams: outbox transport, channel feed job)
from hub.auth import prune_login_attempts
from hub.db import session_scope
from hub.models import JobRun, utcnow
from hub.scheduler import PeriodicJob, register_job, still_leader
from hub.settings import Settings

log = logging.getLogger(__name__)
JOB_RUN_RETENTION = timedelta(days=7)  # enough to investigate last week's missed reminder


def heartbeat(engine: Engine, settings: Settings) -> None:
    """Does nothing but get recorded: its JobRun rows show that the scheduler is alive."""


def prune_history(engine: Engine, settings: Settings) -> None:
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


register_job(PeriodicJob("heartbeat", lambda s: s.scheduler_heartbeat_seconds, heartbeat))
register_job(PeriodicJob("prune-history", lambda s: 3600, prune_history))


def deliver_outbox(engine: Engine, settings: Settings) -> None:
    from hub.outbox import deliver_outbox as deliver

    report = deliver(engine, settings)
    if report.errors:
        log.warning(
            "outbox: %d sent, %d to retry, %d failed", report.sent, report.retried, report.failed
        )


register_job(PeriodicJob("deliver-outbox", lambda s: s.outbox_interval_seconds, deliver_outbox))


def sweep_questions(engine: Engine, settings: Settings) -> None:
    """Question SLAs: automatic escalations and reminder digests (hub/questions/escalation.py)."""
    from hub.questions.escalation import sweep

    report = sweep(engine, utcnow(), settings)
    if report.escalated or report.central_overdue:
        log.info(
            "questions: %d escalated, %d over the central target",
            len(report.escalated),
            len(report.central_overdue),
        )


register_job(PeriodicJob("questions-sweep", lambda s: s.questions_sweep_seconds, sweep_questions))


def send_webinar_reminders(engine: Engine, settings: Settings) -> None:
    """Webinar reminder mails (webinars/reminders.py): each one exactly once."""
    from webinars.reminders import process_due

    report = process_due(engine, utcnow(), settings=settings)
    if report.sent:
        log.info("webinars: %d reminders queued", report.sent)


register_job(
    PeriodicJob(
        "webinar-reminders", lambda s: s.webinar_reminder_interval_seconds, send_webinar_reminders
    )
)
