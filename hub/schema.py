"""Every table of the hub, imported in one place: Alembic autogenerate, the migration
check and the tests' truncation see the same metadata. Add new model modules here."""

from __future__ import annotations

from sqlmodel import SQLModel

import hub.crisis.mode  # noqa: F401
import hub.crisis.state  # noqa: F401
import hub.kind_words  # noqa: F401
import hub.models  # noqa: F401
import hub.outbox  # noqa: F401
import hub.questions.models  # noqa: F401
import hub.reporting.visits  # noqa: F401
import hub.teams.models  # noqa: F401
import kb.models  # noqa: F401
import webinars.models  # noqa: F401

metadata = SQLModel.metadata
