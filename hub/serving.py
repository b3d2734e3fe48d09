"""How `hub serve` runs the web app under uvicorn (bench/hello_app.py serves the load test's
ceiling through the same `run`, so the two differ only by the app).

Four departures from a bare `uvicorn.run`, each for the exam-day rush:

- one listening socket per worker (SO_REUSEPORT, Linux): uvicorn's supervisor binds one
  socket and every worker accepts from its queue, so whichever worker is awake takes the
  next connection; with keep-alive clients (a reverse proxy, a load balancer, 200 browsers)
  one worker could hold every connection while the others idled. Per-worker sockets let
  the kernel spread connections evenly by address hash (the SO_REUSEPORT approach of
  gunicorn's `--reuse-port` and of Kludex/uvicorn#2472);
- Nagle's algorithm off on every connection (`NoDelayH11Protocol`);
- `gc.freeze()` once the app has started, and no access log in production;
- a worker still starting is not health-checked (`StartAwareMultiprocess`): uvicorn gives
  every worker 5 s to answer its first ping, counted from its spawn, and on a loaded machine
  a worker still importing the app missed it and was killed, again and again (52 s before
  `/healthz` answered, three workers killed).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import pickle
import socket
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("hub.serving")
supervisor_log = logging.getLogger("uvicorn.error")  # where uvicorn's supervisor logs
STARTUP_FAILURE = 3  # uvicorn's exit code for "would fail the same way on every restart"
BACKLOG = 2048  # uvicorn's default
# How long a worker may take from its spawn to serving (importing the app, lifespan startup)
# before the supervisor kills it as hung and starts another (`hub serve
# --worker-start-timeout`). A worker needs ~3 s of CPU to start; with three busy loops on
# each of 2 cores both workers served after ~30 s. Serving workers keep uvicorn's own
# 5-second ping (`timeout_worker_healthcheck`).
WORKER_START_TIMEOUT_SECONDS = 120.0


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with Nagle's algorithm off on every connection.

    With `--workers N` uvicorn's supervisor binds the listening socket itself with `proto`
    left at 0 (Kludex/uvicorn#3149, uvicorn 0.54 `Config.bind_socket`); accepted sockets
    inherit it, and asyncio sets TCP_NODELAY only when `proto == IPPROTO_TCP`. So each
    keep-alive answer written in two parts (headers, then body) could wait for the client's
    delayed ACK. Setting the option here works whatever socket the server was given."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def freeze_after_startup(app: ASGIApp) -> ASGIApp:
    """Move everything alive once the app has started (modules, templates, settings...)
    out of the garbage collector's reach (gc.freeze): full collections under load then
    walk only the objects of recent requests, not the whole application."""

    async def frozen(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def send_and_freeze(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                gc.collect()
                gc.freeze()
            await send(message)

        await app(scope, receive, send_and_freeze)

    return frozen


def served_app() -> ASGIApp:
    """The ASGI app as `hub serve` runs it in each worker (a uvicorn factory)."""
    from hub.asgi import app

    return freeze_after_startup(app)


def uvicorn_options(*, production: bool) -> dict[str, Any]:
    """Proxy headers from a local reverse proxy, Nagle off, and no access log in production
    (the reverse proxy keeps one; writing a line per request costs the workers CPU)."""
    return {
        "proxy_headers": True,
        "forwarded_allow_ips": "127.0.0.1",
        "log_level": "info",
        "http": NoDelayH11Protocol,
        "access_log": not production,
    }


def reuse_port_available(host: str) -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT") and ":" not in host


def listening_socket(host: str, port: int, *, shared: bool = True) -> socket.socket:
    """A TCP socket bound to (host, port), in the SO_REUSEPORT group of that address when
    `shared` (without it, the bind fails if anything listens there: another hub included)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker_sockets(host: str, port: int) -> list[socket.socket]:
    """Run in each worker process as its start-up arguments are unpickled: its own listening
    socket. A bind failure ends the worker with uvicorn's start-up failure code, so the
    supervisor stops instead of restarting it forever."""
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        logging.getLogger("uvicorn.error").error("cannot listen on %s:%s: %s", host, port, exc)
        sys.exit(STARTUP_FAILURE)
    sock.listen(BACKLOG)
    return [sock]


class PerWorkerSockets(list[socket.socket]):
    """What the supervisor hands each worker in place of a shared socket: empty in the
    supervisor, and unpickled in each (re)started worker as that worker's own socket.

    uvicorn passes the same `sockets` list to every worker it spawns (and respawns) through
    pickling, which is the one hook that runs in the worker before its server starts, with
    no change to uvicorn's supervisor (health checks, restarts, signals stay uvicorn's)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return _worker_sockets, (self.host, self.port)


@dataclass
class _Starting:
    """A worker the supervisor has not yet seen serving."""

    since: float
    ping_sent: bool = False


class StartAwareMultiprocess(Multiprocess):
    """uvicorn's supervisor, except that a worker is health-checked only once it serves.

    uvicorn pings every worker each 0.5 s and kills one that does not answer within
    `timeout_worker_healthcheck` (5 s), from the moment it is spawned. But a spawned worker
    answers only once its interpreter has started and re-imported the main module (`hub.cli`)
    and its arguments have been unpickled, and then it imports the app: on a machine whose
    cores are busy that takes well over 5 s, so uvicorn killed workers that were merely slow,
    and their replacements, until one got lucky (52 s to a first answer to `/healthz`).

    Here a starting worker is asked, without waiting, whether it serves yet (the same ping
    whose answer is uvicorn's `Server.started`); it is left alone while its process lives,
    for at most `start_timeout` seconds, then killed as hung (logged as an error) and
    replaced like any dead worker. Once it has answered that it serves, uvicorn's own check
    applies unchanged. A worker that exits while starting is handled as uvicorn does (its
    start-up failure code stops the supervisor; any other exit is restarted).
    """

    def __init__(self, config: Config, sockets: list[socket.socket], start_timeout: float) -> None:
        super().__init__(config, sockets)
        self.start_timeout = start_timeout
        self._starting: dict[Process, _Starting] = {}
        self._serving: set[Process] = set()

    def keep_subprocess_alive(self) -> None:
        """uvicorn's `Multiprocess.keep_subprocess_alive` with `_alive` as the check."""
        if self.should_exit.is_set():
            return
        current = set(self.processes)
        self._serving &= current
        self._starting = {p: s for p, s in self._starting.items() if p in current}
        for idx, process in enumerate(self.processes):
            if self._alive(process):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                supervisor_log.error(
                    "Child process [%s] failed to start, stopping the parent process.", process.pid
                )
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            supervisor_log.info("Child process [%s] died", process.pid)
            replacement = Process(self.config, self.sockets)
            replacement.start()
            self.processes[idx] = replacement

    def _alive(self, process: Process) -> bool:
        if process in self._serving:
            return process.is_alive(timeout=self.config.timeout_worker_healthcheck)
        if not process.process.is_alive():
            return False
        starting = self._starting.setdefault(process, _Starting(since=time.monotonic()))
        try:
            if not starting.ping_sent:
                process.parent_conn.send(b"ping")
                starting.ping_sent = True
            while process.parent_conn.poll(0):  # at most one answer per ping sent
                starting.ping_sent = False
                if process.parent_conn.recv() is True:
                    del self._starting[process]
                    self._serving.add(process)
                    supervisor_log.info(
                        "Child process [%s] serving, %.1f s after its start",
                        process.pid,
                        time.monotonic() - starting.since,
                    )
                    return True
        except (OSError, EOFError, pickle.UnpicklingError):
            return False
        if time.monotonic() - starting.since < self.start_timeout:
            return True
        supervisor_log.error(
            "Child process [%s] still not serving after %.0f s: killed as hung",
            process.pid,
            self.start_timeout,
        )
        return False


def run(
    app: str,
    *,
    host: str,
    port: int,
    workers: int,
    production: bool,
    start_timeout: float = WORKER_START_TIMEOUT_SECONDS,
) -> None:
    """Serve the uvicorn factory `app` ("module:function") with `workers` processes, each
    allowed `start_timeout` seconds from its spawn to serving."""
    import uvicorn

    options = uvicorn_options(production=production)
    if workers <= 1:
        uvicorn.run(app, factory=True, host=host, port=port, workers=workers, **options)
        return
    config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, **options)
    if not reuse_port_available(host):  # uvicorn's one shared socket (what uvicorn.run does)
        shared = config.bind_socket()
        StartAwareMultiprocess(config, sockets=[shared], start_timeout=start_timeout).run()
        return
    # Fail here, once, with the reason, rather than in every worker; and refuse a port where
    # anything listens already (a second `hub serve` would otherwise share its connections).
    try:
        listening_socket(host, port, shared=False).close()
    except OSError as exc:
        raise SystemExit(f"cannot listen on {host}:{port}: {exc}") from None
    supervisor_log.info(
        "Listening on http://%s:%s with %s workers, one socket each (SO_REUSEPORT)",
        host,
        port,
        workers,
    )
    StartAwareMultiprocess(
        config, sockets=PerWorkerSockets(host, port), start_timeout=start_timeout
    ).run()
