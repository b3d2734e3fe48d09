"""The ceiling for bench/load.py: the smallest ASGI app, served exactly like `hub serve`.

    python -m bench.hello_app --port 8001 --workers 4

Served by `hub.serving.run`, as `hub serve` serves the hub in production: the same workers
(one SO_REUSEPORT socket each), uvicorn options (proxy headers, log level, the HTTP protocol
with TCP_NODELAY, no access log) and startup heap frozen the same way, so the difference
between this and the hub is the hub's own work per request.
"""

from __future__ import annotations

import argparse

from starlette.types import ASGIApp, Receive, Scope, Send

BODY = b'<!doctype html><html lang="fr"><meta charset="utf-8"><title>Hello</title><p>Hello</p>'
HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def served_app() -> ASGIApp:
    from hub.serving import freeze_after_startup

    return freeze_after_startup(app)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hello_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    from hub.serving import run

    run(  # as `hub serve` runs the hub in production, nothing more
        "bench.hello_app:served_app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        production=True,
    )


if __name__ == "__main__":
    main()
