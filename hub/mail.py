"""E-mail: building the MIME message of an outbox row and sending it over SMTP.

Settings: HUB_SMTP_HOST (empty: mail stays in the outbox, readable on the "sent mail"
page), HUB_SMTP_PORT (0: 25, 587 or 465 by security), HUB_SMTP_SECURITY (none, starttls,
ssl), HUB_SMTP_USER / HUB_SMTP_PASSWORD (optional), HUB_SMTP_FROM.

A calendar invite is sent the way Outlook, Gmail and Apple Mail expect it: a
multipart/alternative of text/plain, text/html (if any) and `text/calendar; method=X`
whose method equals the body's METHOD line.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from hub.outbox import Channel, OutboxMessage, PermanentFailure, TemporaryFailure
from hub.settings import Settings, SmtpSecurity

DEFAULT_PORTS = {SmtpSecurity.none: 25, SmtpSecurity.starttls: 587, SmtpSecurity.ssl: 465}


def sender_domain(settings: Settings) -> str:
    return settings.smtp_from.rpartition("@")[2].strip(">").strip() or "hub.invalid"


def build_email(message: OutboxMessage, settings: Settings) -> EmailMessage:
    """The MIME message for one outbox row (headers cannot be injected: the SMTP policy
    refuses CR/LF in header values, and subjects were made single-line when queued)."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = settings.smtp_from
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = make_msgid(idstring=message.reference, domain=sender_domain(settings))
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Hub-Kind"] = message.kind
    mail.set_content(message.body_text, subtype="plain", charset="utf-8")
    if message.body_html:
        mail.add_alternative(message.body_html, subtype="html", charset="utf-8")
    if message.calendar_ics and message.calendar_method:
        mail.add_alternative(
            message.calendar_ics.encode("utf-8"),
            maintype="text",
            subtype="calendar",
            params={"method": message.calendar_method, "charset": "utf-8"},
            cte="base64" if not message.calendar_ics.isascii() else "7bit",
        )
    return mail


def connect(settings: Settings, *, timeout: float | None = None) -> smtplib.SMTP:
    """An open, authenticated SMTP connection as the settings describe it (TLS included);
    TemporaryFailure with the reason if the server cannot be reached or refuses the login."""
    security = SmtpSecurity(settings.smtp_security)
    port = settings.smtp_port or DEFAULT_PORTS[security]
    timeout = timeout or settings.smtp_timeout_seconds
    try:
        connection: smtplib.SMTP
        if security is SmtpSecurity.ssl:
            connection = smtplib.SMTP_SSL(
                settings.smtp_host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(settings.smtp_host, port, timeout=timeout)
            if security is SmtpSecurity.starttls:
                connection.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            connection.login(settings.smtp_user, settings.smtp_password)
    except smtplib.SMTPAuthenticationError as exc:
        raise TemporaryFailure(f"SMTP authentication refused: {exc.smtp_code}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise TemporaryFailure(
            f"SMTP server {settings.smtp_host}:{port} unreachable: {exc}"
        ) from exc
    return connection


class SmtpTransport:
    """One SMTP connection per delivery pass, opened on first use."""

    channel = Channel.email

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        return connect(self.settings)

    def send(self, message: OutboxMessage, *, reclaimed: bool) -> str | None:
        mail = build_email(message, self.settings)
        if self.connection is None:
            self.connection = self._connect()
        try:
            refused = self.connection.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(500 <= code < 600 for code in codes):
                raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
            raise TemporaryFailure(f"recipient deferred: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise TemporaryFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TemporaryFailure(f"SMTP delivery interrupted: {exc}") from exc
        if refused:
            raise PermanentFailure(f"recipient refused: {refused}")
        return str(mail["Message-ID"])

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.connection = None


def smtp_transport(settings: Settings) -> SmtpTransport | None:
    """The e-mail channel's transport (hub/transports.py); None without HUB_SMTP_HOST."""
    return SmtpTransport(settings) if settings.smtp_host else None
