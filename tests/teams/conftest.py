"""Fixtures: a fake Graph server on 127.0.0.1 and settings pointing the real SDK at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.settings import Settings
from tests.teams.fake_graph import FakeGraph, start

TEAM = "team-crisis"
CHANNEL = "19:crisis@thread.tacv2"


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    graph = FakeGraph()
    graph.add_channel(TEAM, CHANNEL, "Gestion de crise")
    server = start(graph)
    try:
        yield graph
    finally:
        server.shutdown()
        server.server_close()


def teams_values(graph: FakeGraph, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "teams_graph_url": graph.url,
        "teams_static_token": graph.token,
        "teams_team_id": TEAM,
        "teams_channel_id": CHANNEL,
        "teams_timeout_seconds": 5,
        "base_url": "https://hub.college.example",
    }
    values.update(overrides)
    return values


@pytest.fixture
def teams_settings(make_settings: Any, database_url: str, fake_graph: FakeGraph) -> Settings:
    return make_settings(database_url=database_url, **teams_values(fake_graph))


@pytest.fixture(autouse=True)
def no_pacing_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Pacing is tested on its own; here its waits are recorded, not slept."""
    import hub.teams.transport as transport

    waits: list[float] = []
    monkeypatch.setattr(transport, "pacer", transport.Pacer(sleep=waits.append))
    return waits
