"""Messages that left (or will leave) the hub: the e-learning team's "sent mail" page over
the whole outbox, and each person's "my messages" page (their own mail)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from hub import outbox
from hub.i18n import N_
from hub.web.deps import CurrentUser, SessionDep, SettingsDep, flash
from hub.web.rendering import render

router = APIRouter(tags=["messages"])


@router.get("/admin/outbox", name="outbox")
def sent_mail(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    channel: str = "",
    status: str = "",
) -> Response:
    channel = channel if channel in {c.value for c in outbox.Channel} else ""
    status = status if status in {s.value for s in outbox.OutboxStatus} else ""
    messages = outbox.list_messages(db, actor=user, channel=channel or None, status=status or None)
    counts = outbox.status_counts(db, actor=user)
    return render(
        request,
        "messages/outbox.html",
        {
            "messages": messages,
            "counts": counts,
            "channels": list(outbox.Channel),
            "statuses": list(outbox.OutboxStatus),
            "channel": channel,
            "status": status,
            "smtp_configured": bool(settings.smtp_host),
        },
    )


@router.get("/admin/outbox/{message_id}", name="outbox_message")
def sent_message(request: Request, db: SessionDep, user: CurrentUser, message_id: int) -> Response:
    message = outbox.open_message(db, message_id, actor=user)
    return render(request, "messages/message.html", {"message": message, "back": "/admin/outbox"})


@router.post("/admin/outbox/{message_id}/retry", name="outbox_retry")
def retry_message(request: Request, db: SessionDep, user: CurrentUser, message_id: int) -> Response:
    outbox.retry(db, message_id, actor=user)
    db.commit()
    flash(request, N_("Le message sera renvoyé au prochain passage du distributeur."))
    return RedirectResponse(f"/admin/outbox/{message_id}", status_code=303)


@router.get("/account/messages", name="my_messages")
def my_messages(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return render(request, "messages/mine.html", {"messages": outbox.messages_for(db, user)})


@router.get("/account/messages/{message_id}", name="my_message")
def my_message(request: Request, db: SessionDep, user: CurrentUser, message_id: int) -> Response:
    message = outbox.open_message(db, message_id, actor=user)
    return render(
        request, "messages/message.html", {"message": message, "back": "/account/messages"}
    )


@router.get("/account/messages/{message_id}/invite.ics", name="my_message_invite")
def message_invite(db: SessionDep, user: CurrentUser, message_id: int) -> Response:
    """The calendar part of a mail, to add it to a calendar by hand."""
    message = outbox.open_message(db, message_id, actor=user)
    if not message.calendar_ics:
        return Response("Ce message ne contient pas d'invitation.", status_code=404)
    return Response(
        message.calendar_ics,
        media_type=f"text/calendar; charset=utf-8; method={message.calendar_method}",
        headers={"Content-Disposition": f'attachment; filename="invitation-{message.id}.ics"'},
    )
