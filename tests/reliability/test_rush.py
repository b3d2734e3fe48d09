"""The first minutes of a crisis, short: 32 people at once on `hub serve --workers 2` with the
scheduler running, over real sessions (bench/rush.py, the benchmark's own code): students
looking up their exam, signed-in teachers searching as they type, reading, ticking a checklist
and asking with live suggestions, referents claiming and answering, the e-learning team on the
dashboard. About 10 seconds per database, starter pack only.

What a user would notice otherwise: an error page (any 5xx, or a 4xx in a scripted journey),
a page that never comes (over 10 s), the whole hub frozen (5 s without a single answer while
people wait), a sign-in refused, or a question, answer or tick that was confirmed and then is
not there.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import rush
from tests.reliability.conftest import dedicated_postgres

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reliability")]

CONNECTIONS = 32
DURATION_S = 10.0
WARMUP_S = 1.0


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, shared by the server's processes and this test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rush.sqlite3'}"
        return
    with dedicated_postgres() as url:
        yield url


def report(result: dict[str, Any], verified: dict[str, Any], log_errors: dict[str, int]) -> str:
    lines = [
        f"{CONNECTIONS} connections {result['personas_connections']}, {DURATION_S:g} s: "
        f"{result['rps']:.0f} req/s; acknowledged {verified['questions']} questions, "
        f"{verified['answers']} answers, {verified['ticks']} ticks"
    ]
    for name, persona in result["personas"].items():
        statuses = {step: figures["statuses"] for step, figures in persona["steps"].items()}
        lines.append(
            f"  {name}: {persona['rps']:.0f} req/s, p99 {persona['p99_ms']:.0f} ms, "
            f"statuses by step {statuses}"
        )
    lines += [f"PROBLEM {p}" for p in result["problems"]]
    lines += [f"MISSING {m}" for m in verified["missing"]]
    lines += [f"server log: {n} x {line}" for line, n in log_errors.items()]
    return "\n".join(lines)


def test_thirty_two_people_at_once_see_no_error_no_stall_and_keep_their_writes(
    database_url: str, tmp_path: Path
) -> None:
    corpus = rush.prepare(
        database_url, articles=0, accounts=rush.accounts_needed([("rush", CONNECTIONS)])
    )
    with rush.hub_server(database_url, tmp_path) as server:
        result = rush.run_mix(
            server.url, corpus, "rush", connections=CONNECTIONS, warmup=WARMUP_S,
            duration=DURATION_S,
        )  # fmt: skip
    verified = rush.verify(database_url, result["acks"])
    log_errors = rush.server_log_errors(server.log_path)
    summary = report(result, verified, log_errors)
    sys.stderr.write(summary + "\n")  # shown with -rA or on failure

    assert not result["problems"], summary
    assert not verified["missing"], summary
    # Nothing acknowledged would make the write check empty: the journeys must have got there.
    assert verified["questions"] and verified["ticks"], summary
    assert all(p["requests"] for p in result["personas"].values()), summary
