"""ASGI entry point for uvicorn and other servers: `hub.asgi:app`."""

from hub.app import create_app

app = create_app()
