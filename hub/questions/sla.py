"""Service-level targets: which schedule and targets apply now (normal or crisis profile)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlmodel import Session

from hub.business_hours import Schedule
from hub.crisis.state import crisis_active
from hub.settings import Settings


@dataclass(frozen=True)
class Profile:
    crisis: bool
    schedule: Schedule
    referent_hours: float  # first response by the department
    central_hours: float  # response by the central team once escalated

    def referent_due(self, clock_started_at: datetime) -> datetime:
        return self.schedule.add(clock_started_at, self.referent_hours)

    def central_due(self, escalated_at: datetime) -> datetime:
        return self.schedule.add(escalated_at, self.central_hours)

    def waited(self, since: datetime, now: datetime) -> timedelta:
        return self.schedule.between(since, now)


@lru_cache(maxsize=16)
def _schedule(hours: str, holidays: str) -> Schedule:
    return Schedule.from_text(hours, holidays)


def profile(session: Session, settings: Settings) -> Profile:
    if crisis_active(session):
        return Profile(
            crisis=True,
            schedule=_schedule(settings.crisis_business_hours, settings.holidays),
            referent_hours=settings.sla_crisis_first_response_hours,
            central_hours=settings.sla_crisis_elearning_response_hours,
        )
    return Profile(
        crisis=False,
        schedule=_schedule(settings.business_hours, settings.holidays),
        referent_hours=settings.sla_first_response_hours,
        central_hours=settings.sla_elearning_response_hours,
    )
