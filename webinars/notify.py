"""The mails of the webinars, queued in the outbox in the caller's transaction.

Who gets what:
- registration with a seat: REQUEST to the registrant;
- registration on the waitlist: a plain mail with the position (no invite yet);
- promotion from the waitlist: REQUEST to the promoted person;
- leaving: CANCEL to the leaver (their own SEQUENCE goes up);
- a real change (time, duration, title, joining link): REQUEST to every registrant;
- cancellation of the session: CANCEL to every registrant, a plain mail to the waitlist;
- reminders (webinars/reminders.py): plain mails (Outlook ignores VALARM in invites).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from babel.dates import get_day_names
from sqlmodel import Session

from hub import outbox
from hub.models import User, id_of
from hub.settings import Settings
from webinars.invites import LOCAL_TIME, Method, Person, invite, organizer_from
from webinars.models import WebinarRegistration, WebinarSession

# Dates on the web pages follow the viewer's language; the mails, reminders and calendar
# texts stay French (the default). Same date format in both (dd/mm/yyyy, 24-hour clock),
# like the exam pages; weekday names from Babel's locale data.
_TIME_ZONE_NOTE = {"fr": "heure de Bruxelles", "en": "Brussels time"}


@dataclass(frozen=True)
class MailContext:
    organizer: Person
    base_url: str

    def link(self, path: str) -> str:
        return f"{self.base_url}{path}" if self.base_url else path


def mail_context(settings: Settings) -> MailContext:
    return MailContext(organizer=organizer_from(settings.smtp_from), base_url=settings.base_url)


def session_path(webinar: WebinarSession) -> str:
    return f"/webinars/{id_of(webinar)}"


def when(moment: datetime, duration_minutes: int | None = None, *, locale: str = "fr") -> str:
    """ "mardi 31/03/2026 15:00–16:00 (heure de Bruxelles)";
    in English (locale="en"): "Tuesday 31/03/2026 15:00–16:00 (Brussels time)".
    An unknown locale falls back to French."""
    if locale not in _TIME_ZONE_NOTE:
        locale = "fr"
    local = moment.astimezone(LOCAL_TIME)
    weekday = get_day_names("wide", locale=locale)[local.weekday()]
    text = f"{weekday} {local:%d/%m/%Y %H:%M}"
    if duration_minutes:
        end = local + timedelta(minutes=duration_minutes)
        text += f"–{end:%H:%M}"
    return f"{text} ({_TIME_ZONE_NOTE[locale]})"


def when_in(locale: str) -> Callable[..., str]:
    """`when` bound to a language, for the templates: `when(moment, duration_minutes)`."""
    return partial(when, locale=locale)


def personal_sequence(webinar: WebinarSession, registration: WebinarRegistration | None) -> int:
    return webinar.sequence + (registration.personal_sequence if registration else 0)


def _details(webinar: WebinarSession, context: MailContext) -> str:
    lines = [
        f"{webinar.title}",
        when(webinar.starts_at, webinar.duration_minutes),
    ]
    if webinar.join_url:
        lines.append(f"Lien pour rejoindre : {webinar.join_url}")
    lines.append(f"Page du webinaire : {context.link(session_path(webinar))}")
    return "\n".join(lines)


def _calendar_mail(
    session: Session,
    *,
    webinar: WebinarSession,
    user: User,
    registration: WebinarRegistration,
    method: str,
    subject: str,
    intro: str,
    kind: str,
    context: MailContext,
) -> None:
    ics = invite(
        webinar,
        method=method,
        organizer=context.organizer,
        attendee=Person(email=user.email, name=user.name),
        sequence=personal_sequence(webinar, registration),
        link=context.link(session_path(webinar)),
    )
    outbox.enqueue_mail(
        session,
        to=user.email,
        user_id=user.id,
        subject=subject,
        text=f"Bonjour {user.name},\n\n{intro}\n\n{_details(webinar, context)}\n",
        kind=kind,
        calendar_method=method,
        calendar_ics=ics,
        link=session_path(webinar),
    )


def send_invite(
    session: Session,
    webinar: WebinarSession,
    user: User,
    registration: WebinarRegistration,
    context: MailContext,
    *,
    promoted: bool = False,
) -> None:
    if promoted:
        subject = f"Place confirmée : {webinar.title}"
        intro = "Une place s'est libérée : vous êtes inscrit·e au webinaire."
        kind = "webinar.promoted"
    else:
        subject = f"Invitation : {webinar.title}"
        intro = "Votre inscription au webinaire est confirmée."
        kind = "webinar.invite"
    _calendar_mail(
        session,
        webinar=webinar,
        user=user,
        registration=registration,
        method=Method.REQUEST,
        subject=subject,
        intro=intro,
        kind=kind,
        context=context,
    )


def send_update(
    session: Session,
    webinar: WebinarSession,
    user: User,
    registration: WebinarRegistration,
    context: MailContext,
    *,
    what: str,
) -> None:
    _calendar_mail(
        session,
        webinar=webinar,
        user=user,
        registration=registration,
        method=Method.REQUEST,
        subject=f"Mise à jour : {webinar.title}",
        intro=f"Le webinaire a changé ({what}). Votre agenda sera mis à jour.",
        kind="webinar.update",
        context=context,
    )


def send_cancel(
    session: Session,
    webinar: WebinarSession,
    user: User,
    registration: WebinarRegistration,
    context: MailContext,
    *,
    whole_session: bool,
) -> None:
    if whole_session:
        subject = f"Annulé : {webinar.title}"
        intro = "Ce webinaire est annulé. Il sera retiré de votre agenda."
        kind = "webinar.cancelled"
    else:
        subject = f"Désinscription : {webinar.title}"
        intro = "Votre désinscription est enregistrée. Le webinaire sera retiré de votre agenda."
        kind = "webinar.unregistered"
    _calendar_mail(
        session,
        webinar=webinar,
        user=user,
        registration=registration,
        method=Method.CANCEL,
        subject=subject,
        intro=intro,
        kind=kind,
        context=context,
    )


def send_plain(
    session: Session,
    webinar: WebinarSession,
    user: User,
    context: MailContext,
    *,
    subject: str,
    intro: str,
    kind: str,
    dedupe_key: str | None = None,
) -> None:
    outbox.enqueue_mail(
        session,
        to=user.email,
        user_id=user.id,
        subject=subject,
        text=f"Bonjour {user.name},\n\n{intro}\n\n{_details(webinar, context)}\n",
        kind=kind,
        link=session_path(webinar),
        dedupe_key=dedupe_key,
    )
