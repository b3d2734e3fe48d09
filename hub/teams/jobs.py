"""Registers the Teams transport with the outbox and the feed refresh with the scheduler.

Imported by `hub/jobs.py` (the worker) and by the web routes, so both processes know the
Teams transport. Cheap: msgraph-sdk is imported only when a gateway is created.
"""

from __future__ import annotations

import hub.teams.transport  # noqa: F401  (registers the outbox transport for Channel.teams)
from hub.scheduler import PeriodicJob, register_job
from hub.teams.feed import refresh_job

register_job(PeriodicJob("teams-feed", lambda s: s.teams_feed_refresh_seconds, refresh_job))
