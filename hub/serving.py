"""How `hub serve` runs the web app under uvicorn (bench/hello_app.py serves the load test's
ceiling through the same `run`, so the two differ only by the app).

Three departures from a bare `uvicorn.run`, each for the exam-day rush:

- one listening socket per worker (SO_REUSEPORT, Linux): uvicorn's supervisor binds one
  socket and every worker accepts from its queue, so whichever worker is awake takes the
  next connection; with keep-alive clients (a reverse proxy, a load balancer, 200 browsers)
  one worker could hold every connection while the others idled. Per-worker sockets let
  the kernel spread connections evenly by address hash (the SO_REUSEPORT approach of
  gunicorn's `--reuse-port` and of Kludex/uvicorn#2472);
- Nagle's algorithm off on every connection (`NoDelayH11Protocol`);
- `gc.freeze()` once the app has started, and no access log in production.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import sys
from contextlib import suppress
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger("hub.serving")
STARTUP_FAILURE = 3  # uvicorn's exit code for "would fail the same way on every restart"
BACKLOG = 2048  # uvicorn's default


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
    from hub.web.asgi import app

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


def run(app: str, *, host: str, port: int, workers: int, production: bool) -> None:
    """Serve the uvicorn factory `app` ("module:function") with `workers` processes."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    options = uvicorn_options(production=production)
    if workers <= 1 or not reuse_port_available(host):
        uvicorn.run(app, factory=True, host=host, port=port, workers=workers, **options)
        return
    config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, **options)
    # Fail here, once, with the reason, rather than in every worker; and refuse a port where
    # anything listens already (a second `hub serve` would otherwise share its connections).
    try:
        listening_socket(host, port, shared=False).close()
    except OSError as exc:
        raise SystemExit(f"cannot listen on {host}:{port}: {exc}") from None
    logging.getLogger("uvicorn.error").info(
        "Listening on http://%s:%s with %s workers, one socket each (SO_REUSEPORT)",
        host,
        port,
        workers,
    )
    Multiprocess(config, sockets=PerWorkerSockets(host, port)).run()
