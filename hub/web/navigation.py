"""The main navigation: which links the page header shows to whom (templates/base.html).

The rules are the role sets of hub.models, one line per link; the template only loops over
what `main_navigation` returns. Showing a link is a convenience, not a permission: the
services check roles (`require_role`) whatever the navigation shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hub.i18n import N_
from hub.models import SIGNED_IN, STAFF, SUPPORT, TEAM, Role


class Person(Protocol):
    """The signed-in person as far as navigation goes: a User, or the error pages' Viewer."""

    @property
    def role(self) -> Role: ...


@dataclass(frozen=True)
class Link:
    label: str  # French, marked with N_: the template translates it (`translate` filter)
    route: str  # the route's name
    roles: tuple[Role, ...] = SIGNED_IN  # who sees it, when signed in


@dataclass(frozen=True)
class NavItem:
    label: str
    route: str
    href: str
    current: bool  # the page being shown


# In the header's order. Two sets have no name in hub.models and are written out here: who
# asks questions (the questions area's ASKERS; hub.web imports no area), and who looks exams
# up (students, and the team, which imports the timetable; anyone may open /exams).
SIGNED_IN_LINKS = (
    Link(N_("Tutoriels"), "kb_index"),
    Link(N_("Webinaires"), "webinars_index", STAFF),
    Link(N_("Examens"), "exams", (Role.student, *TEAM)),
    Link(N_("Problèmes d'examen"), "exam_problems", SUPPORT),
    Link(N_("Mes questions"), "my_questions", (Role.teacher,)),
    Link(N_("File des questions"), "queues", SUPPORT),
    Link(N_("Départements"), "departments", STAFF),
    Link(N_("Pilotage"), "admin", TEAM),
    Link(N_("Mon compte"), "account"),
)
ANONYMOUS_LINKS = (  # for visitors not signed in (`roles` unused)
    Link(N_("Examens"), "exams"),
    Link(N_("Tutoriels"), "kb_index"),
    Link(N_("Se connecter"), "login"),
)


def links_for(role: Role | None) -> tuple[Link, ...]:
    """The header's links for a role (None: an anonymous visitor)."""
    if role is None:
        return ANONYMOUS_LINKS
    return tuple(link for link in SIGNED_IN_LINKS if role in link.roles)


def main_navigation(
    person: Person | None, *, path: str, url: Callable[[str], str]
) -> list[NavItem]:
    """The header's links for `person` on the page at `path`; `url` gives a route's path."""
    items = []
    for link in links_for(person.role if person is not None else None):
        href = url(link.route)
        items.append(NavItem(link.label, link.route, href, current=href == path))
    return items
