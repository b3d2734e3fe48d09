"""Integers typed or sent by people: one parser for every query string and form field.

Python's own parsing is too generous for input: `"²".isdigit()` is true and `int("²")` fails
(a 500), `int("٣")` is 3, `int("1_000")` is 1000, and a number too large for PostgreSQL's
INTEGER (or SQLite's 64 bits) fails in the database (a 500 again). So a number from a query
string or a form is ASCII digits, with a minus sign only where the range allows one,
surrounding spaces forgiven, within the range a column can hold or a narrower one the field
asks for. Anything else is the domain's `InvalidInput` (422, beside the field when a form is
shown again) or, for an id in a link, `NotFound` (404), never a database error.

Path parameters go through the same range in `hub.web.deps.load_request_context`.
"""

from __future__ import annotations

import re

from hub.errors import InvalidInput, NotFound
from hub.i18n import N_

MAX_INTEGER = 2**31 - 1  # PostgreSQL's INTEGER, the type of our ids and counts
MIN_INTEGER = -(2**31)
MAX_ID = MAX_INTEGER  # the largest id our tables hold
INTEGER = re.compile(r"-?[0-9]+")  # ASCII only: `re`'s [0-9] is not `\d`
NOT_AN_INTEGER = N_("nombre entier attendu")
NO_SUCH_PAGE = N_("Page introuvable.")


def parse_int(
    text: str,
    *,
    field: str | None = None,
    minimum: int = MIN_INTEGER,
    maximum: int = MAX_INTEGER,
    message: str = NOT_AN_INTEGER,
    out_of_range: str | None = None,
) -> int:
    """The integer `text` writes in ASCII digits, within [minimum, maximum].

    Raises InvalidInput(message) for anything else (out_of_range, if given, for a well-formed
    number outside the range); with `field`, the message is also that field's error."""
    text = text.strip()
    if not INTEGER.fullmatch(text):
        raise _invalid(message, field)
    # Past ten digits it is out of range, however many more (and int() refuses 4,300).
    if len(text.lstrip("-").lstrip("0")) > 10 or not minimum <= int(text) <= maximum:
        raise _invalid(out_of_range or message, field)
    return int(text)


def _invalid(message: str, field: str | None) -> InvalidInput:
    return InvalidInput(message, {field: message} if field else None)


def parse_id(text: str, *, not_found: str = NO_SUCH_PAGE) -> int:
    """A row id from a link or a hidden field: no row has an id that is not one (404)."""
    try:
        return parse_int(text, minimum=1, maximum=MAX_ID)
    except InvalidInput:
        raise NotFound(not_found) from None


def optional_id(text: str, *, not_found: str = NO_SUCH_PAGE) -> int | None:
    """parse_id, with an empty value meaning none."""
    return parse_id(text, not_found=not_found) if text.strip() else None
