"""Knowledge-base fixtures: the starter pack imported into the test's own database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from kb.importer import import_directory
from kb.synonyms import load_starter_synonyms

CONTENT = Path(__file__).resolve().parents[2] / "kb" / "content"


@pytest.fixture
def starter_pack(db: Session) -> None:
    """The real starter pack and starter synonyms, as `make run` loads them."""
    report = import_directory(db, CONTENT)
    assert not report.errors, report.errors
    load_starter_synonyms(db)
    db.commit()
