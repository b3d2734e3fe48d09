"""`hub serve --workers N`: connections are spread over the workers, a crashed worker comes
back listening, and a second hub on a port already served is refused with the reason.

What an exam-day user would notice otherwise: with one shared listening socket, a burst of
keep-alive connections (200 browsers, or the reverse proxy's pool) went to whichever worker
accepted first, and one core served everyone while the others idled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hub_server import HubProcess, free_port, hub_env
from tests.reliability.conftest import HubProcesses, prepare_database, serve_args, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reliability")]

CONNECTIONS = 48
WORKERS = 2
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(entry.name))
    return found


def held_connections(server: HubProcess, port: int) -> dict[int, int]:
    """Established connections on `port` held by each process of the server, by pid."""
    inodes = set()
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cells = row.split()
        if int(cells[1].rsplit(":", 1)[1], 16) == port and cells[3] == "01":
            inodes.add(f"socket:[{cells[9]}]")
    counts: dict[int, int] = {}
    for pid in [server.pid, *children(server.pid)]:
        held = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    held += os.readlink(fd) in inodes
                except OSError:
                    continue
        except OSError:
            continue
        counts[pid] = held
    return counts


def open_keepalive_connections(port: int, count: int) -> list[socket.socket]:
    """`count` connections opened at once (a burst, as 200 browsers or wrk open them), then
    each makes one request and stays open (keep-alive)."""
    opened = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    for sock in opened:
        sock.sendall(REQUEST)
    for sock in opened:
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return opened


def workers_of(server: HubProcess) -> list[int]:
    """The uvicorn worker processes (children of the supervisor that are not helpers)."""
    found = []
    for pid in children(server.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command:
            found.append(pid)
    return found


@pytest.fixture
def served(tmp_path: Path, hub_processes: HubProcesses) -> tuple[HubProcess, int, dict[str, str]]:
    database = f"sqlite:///{tmp_path / 'var' / 'hub.sqlite3'}"
    (tmp_path / "var").mkdir()
    prepare_database(database)
    env = hub_env(database, tmp_path / "var")
    port = free_port()
    server = hub_processes(
        *serve_args(port, workers=WORKERS), env=env, cwd=tmp_path, log_name="web.log", port=port
    ).start()
    wait_for(lambda: len(workers_of(server)) == WORKERS, "both workers", timeout=30)
    return server, port, env


def test_connections_are_spread_over_the_workers_and_a_crashed_one_comes_back(
    served: tuple[HubProcess, int, dict[str, str]],
) -> None:
    server, port, _env = served
    connections = open_keepalive_connections(port, CONNECTIONS)
    try:
        spread = held_connections(server, port)
        workers = workers_of(server)
        per_worker = [spread.get(pid, 0) for pid in workers]
        assert sum(per_worker) == CONNECTIONS, (spread, workers)
        # Hashing spreads 48 connections ~24/24; a shared queue gave one worker nearly all.
        assert min(per_worker) >= CONNECTIONS // 6, f"uneven: {per_worker}"
        assert spread.get(server.pid, 0) == 0, "the supervisor holds no connection"
    finally:
        for sock in connections:
            sock.close()

    crashed = workers_of(server)[0]
    os.kill(crashed, signal.SIGKILL)
    wait_for(
        lambda: crashed not in workers_of(server) and len(workers_of(server)) == WORKERS,
        "the crashed worker's replacement",
        timeout=30,
    )
    replacement = next(pid for pid in workers_of(server) if pid not in workers)
    # Serving once the supervisor saw it answer (its socket bound, the app loaded), however
    # long that takes on a busy machine: a fixed sleep was sometimes too short.
    wait_for(
        lambda: f"Child process [{replacement}] serving" in server.log_path.read_text(),
        "the replacement serving",
        timeout=120,
    )
    connections = open_keepalive_connections(port, CONNECTIONS)
    try:
        spread = held_connections(server, port)
        per_worker = [spread.get(pid, 0) for pid in workers_of(server)]
        assert sum(per_worker) == CONNECTIONS
        assert min(per_worker) >= CONNECTIONS // 6, f"the replacement serves too: {per_worker}"
    finally:
        for sock in connections:
            sock.close()


def test_a_second_hub_on_a_served_port_is_refused(
    served: tuple[HubProcess, int, dict[str, str]], tmp_path: Path
) -> None:
    server, port, env = served
    second = subprocess.run(
        [sys.executable, "-m", "hub.cli", *serve_args(port, workers=WORKERS)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
    assert "Address already in use" in second.stderr
    assert server.alive()
