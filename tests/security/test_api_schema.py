"""schemathesis against /api/openapi.json: no 500 and no response that breaks its schema.

Every /api/ operation of the OpenAPI document gets generated requests (valid and invalid
bodies, query strings and path ids), sent in process to the ASGI app with the bearer token of
an e-learning team member and of a teacher, over the matrix's college (real questions,
webinars, articles, exams). Checks: `not_a_server_error` and `response_schema_conformance`
(undocumented 401/403/404 statuses are the matrix's business, not checked here). A 422 is
documented as FastAPI's validation error or the hub's own `HubError` (`detail` + `fields`).
"""

from __future__ import annotations

from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlmodel import Session

from hub.app import create_app
from hub.settings import Settings
from tests.security.conftest import build_world

EXAMPLES_PER_OPERATION = 12


def test_api_operations_never_fail_nor_break_their_schema(db: Session, settings: Settings) -> None:
    world = build_world(db, settings)
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app).include(path_regex="^/api/")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 15  # kb, exams, me, departments, webinars, questions, queues
    failures: list[str] = []
    for principal in ("elearning", "teacher"):
        headers = {"Authorization": f"Bearer {world.tokens[principal]}"}
        for operation in operations:
            try:
                _fuzz(operation, headers)
            except Exception as exc:  # collect every operation's failure, then report
                failures.append(f"{principal} {operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        case.call_and_validate(
            headers=headers,
            checks=[not_a_server_error, response_schema_conformance],
        )

    run()
