"""Addresses read from a request: where to go next, and who is asking (shared by the routes,
which never import each other)."""

from __future__ import annotations

from fastapi import Request


def safe_next(target: str | None) -> str:
    """Only local paths: never bounce a freshly signed-in user to another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
