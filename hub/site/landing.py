"""The public landing page, the address printed on posters: it routes each visitor to
what they came for (student -> exams, teacher -> search and ask, referent -> queue)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from hub.models import Role
from hub.web.deps import OptionalUser
from hub.web.rendering import render

router = APIRouter(tags=["pages"])

# Where each role goes; anonymous visitors choose on the page.
DESTINATIONS = {
    Role.student: "/exams",
    Role.teacher: "/kb",
    Role.referent: "/queues",
    Role.elearning: "/admin",
}


@router.get("/start", name="landing")
def landing(request: Request, user: OptionalUser) -> Response:
    if user is not None:
        return RedirectResponse(DESTINATIONS[Role(user.role)], status_code=303)
    return render(request, "home/landing.html")
