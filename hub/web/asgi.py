"""ASGI entry point for uvicorn and other servers: `hub.web.asgi:app`."""

from hub.web.app import create_app

app = create_app()
