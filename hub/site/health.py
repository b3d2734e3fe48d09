"""`GET /healthz`: is the database answering, and is the scheduler alive?"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, text
from sqlmodel import select

from hub import __version__
from hub.db import backend_name
from hub.models import JobRun, utcnow
from hub.web.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz", name="healthz")
def healthz(request: Request, db: SessionDep) -> JSONResponse:
    state = request.app.state
    body: dict[str, object] = {
        "status": "ok",
        "database": backend_name(state.engine),
        "version": __version__,
    }
    try:
        db.execute(text("SELECT 1"))
        last_beat = db.exec(
            select(func.max(JobRun.started_at)).where(JobRun.job_id == "heartbeat")
        ).one()
    except Exception as exc:  # report, do not raise: a load balancer reads this
        body.update(status="error", error=f"database unreachable: {type(exc).__name__}")
        return JSONResponse(body, status_code=503)
    scheduler = state.scheduler
    body["scheduler"] = {
        "in_this_process": bool(scheduler and scheduler.is_leader.is_set()),
        "last_heartbeat": last_beat.isoformat() if last_beat else None,
        "stale": last_beat is None
        or utcnow() - last_beat > timedelta(seconds=3 * state.settings.scheduler_heartbeat_seconds),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
