"""Domain errors raised by services; the web layer turns them into pages or JSON `detail`."""

from __future__ import annotations


class HubError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(HubError):
    status_code = 404


class PermissionDenied(HubError):
    status_code = 403


class NotSignedIn(PermissionDenied):
    """Signing in would help: pages redirect to the sign-in form, the API answers 401."""

    status_code = 401


class Conflict(HubError):
    status_code = 409


class InvalidInput(HubError):
    """Bad input; `fields` maps a form field to its message so forms can show it in place."""

    status_code = 422

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


class TooManyAttempts(HubError):
    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
