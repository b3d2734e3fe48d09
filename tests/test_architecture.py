"""The import contracts (pyproject.toml, `lint-imports` in `make lint`) cover every module.

"Services never import the web layer" lists the service modules by name: a module added
without being listed would escape it. Here every module of hub, kb and webinars must be
either listed there or part of the HTTP layer."""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path

import hub
import kb
import webinars

ROOT = Path(__file__).resolve().parents[1]
HTTP_LAYER = {
    "hub.app",
    "hub.asgi",
    "hub.cli",
    "hub.serving",
    "hub.site",
    "hub.web",
    "hub.crisis.web",
    "hub.exams.web",
    "hub.questions.web",
    "hub.reporting.web",
    "hub.teams.web",
    "kb.web",
    "kb.pages",
    "kb.suggest",
    "webinars.web",
}


def _contract(name: str) -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"] == name)


def test_every_module_is_under_the_web_layer_contract() -> None:
    contract = _contract("Services never import the web layer")
    services = set(contract["source_modules"])  # type: ignore[arg-type]
    assert set(contract["forbidden_modules"]) == HTTP_LAYER  # type: ignore[arg-type]
    modules: set[str] = set()
    for package in (hub, kb, webinars):
        for module in pkgutil.iter_modules(package.__path__):
            name = f"{package.__name__}.{module.name}"
            if module.ispkg and name not in services | HTTP_LAYER:  # an area: its modules
                inner = importlib.import_module(name).__path__
                modules |= {f"{name}.{m.name}" for m in pkgutil.iter_modules(inner)}
            else:
                modules.add(name)
    unlisted = modules - services - HTTP_LAYER
    assert not unlisted, f"add them to the contract's source_modules: {sorted(unlisted)}"
    assert not services - modules, f"listed but gone: {sorted(services - modules)}"


def test_every_router_module_is_under_the_independence_contract() -> None:
    """A new module with routes must be named in "Route modules never import each other"."""
    from fastapi import APIRouter

    listed = _contract("Route modules never import each other")["modules"]
    patterns = [m.removesuffix("*") for m in listed]  # type: ignore[union-attr]
    routers: set[str] = set()
    for package in (hub, kb, webinars):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            loaded = importlib.import_module(module.name)
            if any(isinstance(v, APIRouter) for v in vars(loaded).values()):
                routers.add(module.name)
    unlisted = {
        r
        for r in routers
        if not any(r == p or (p.endswith(".") and r.startswith(p)) for p in patterns)
    }
    assert routers and not unlisted, f"add them to the independence contract: {sorted(unlisted)}"


def test_role_checks_name_their_role_set() -> None:
    """`require_role` takes a named set (hub.models: SIGNED_IN, STAFF, SUPPORT, TEAM; an
    area's own, like kb.articles.AUTHORS), never roles written out: a route and its service
    then check the same set, and changing who may do something is one edit."""
    import ast

    spelled_out: list[str] = []
    for package in ("hub", "kb", "webinars"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", None) == "require_role"
                    and sum(isinstance(a, ast.Attribute) for a in node.args) > 1
                ):
                    spelled_out.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not spelled_out, spelled_out
