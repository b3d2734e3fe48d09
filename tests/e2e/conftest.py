"""Browser end-to-end fixtures: one real `hub serve` subprocess and one headless Chromium.

The server is the real thing, started the way an operator would: `hub db upgrade`, `hub demo
load`, `hub kb import kb/content` (the starter pack of tutorials and checklists), `hub users
create --password` (password typed on stdin), then `hub serve` on a free
port of 127.0.0.1, with its own temporary data directory (SQLite) and demo mode on. It is
started once per test session (once per xdist worker that gets e2e tests; the tests share an
`xdist_group` so `make test` runs them all on one worker) and stopped at the end.

Chromium is Debian's (/usr/bin/chromium): Playwright cannot download its own browsers here.
Without it the tests are skipped, or fail when HUB_TEST_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, StorageState, sync_playwright

from tests.hub_server import free_port, hub_env, run_cli, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REQUIRE_BROWSER = os.environ.get("HUB_TEST_REQUIRE_BROWSER") == "1"
STARTUP_TIMEOUT_SECONDS = 30.0
CLI_TIMEOUT_SECONDS = 120.0
REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO_ROOT / "test-results"  # gitignored
KB_CONTENT = REPO_ROOT / "kb" / "content"  # the starter pack, imported as an operator would

# The account created through `hub users create --password` (demo accounts have no password).
TEACHER_EMAIL = "helene.dupre@college.example"
TEACHER_NAME = "Hélène Dupré"  # accents on purpose: checks UTF-8 end to end
TEACHER_DEPARTMENT = "SCI"  # created by `hub demo load`


@dataclass(frozen=True)
class HubServer:
    base_url: str
    teacher_email: str
    teacher_name: str
    teacher_password: str
    log_path: Path


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist registers `xdist_group`; declared here too so that `--strict-markers` still
    # accepts it when the plugin is off (`pytest tests/e2e -p no:xdist`, the quick way to run
    # only these tests in one process).
    config.addinivalue_line("markers", "xdist_group(name): run the marked tests on one worker")


def pytest_report_header(config: pytest.Config) -> list[str]:
    found = "found" if CHROMIUM.exists() else "missing"
    policy = "required" if REQUIRE_BROWSER else "e2e tests skipped if missing"
    return [f"e2e browser: {CHROMIUM} ({found}; {policy})"]


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """The real hub, demo data loaded, plus one teacher who signs in with a password."""
    root = tmp_path_factory.mktemp("e2e-hub")
    data_dir = root / "var"
    data_dir.mkdir()
    port = free_port()
    password = "e2e-" + secrets.token_urlsafe(18)
    # Only this run's settings: no HUB_* from the caller's shell, and a working directory
    # without a .env file, so a developer's own database is never touched.
    env = hub_env(
        f"sqlite:///{data_dir / 'hub.sqlite3'}",
        data_dir,
        demo="1",
        host="127.0.0.1",
        port=str(port),
    )  # periodic jobs off: not what these tests look at
    run_cli(env, root, "db", "upgrade")
    run_cli(env, root, "demo", "load")
    run_cli(env, root, "kb", "import", str(KB_CONTENT))  # exits 1 if any article is rejected
    run_cli(
        env,
        root,
        "users",
        "create",
        "--email",
        TEACHER_EMAIL,
        "--name",
        TEACHER_NAME,
        "--role",
        "teacher",
        "--department",
        TEACHER_DEPARTMENT,
        "--password",
        stdin=f"{password}\n{password}\n",  # the prompt asks twice
    )

    with serving(env, root, port) as server:
        yield HubServer(
            base_url=server.base_url,
            teacher_email=TEACHER_EMAIL,
            teacher_name=TEACHER_NAME,
            teacher_password=password,
            log_path=server.log_path,
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session; each test opens its own contexts."""
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(message + " and HUB_TEST_REQUIRE_BROWSER=1", pytrace=False)
        pytest.skip(message + "; set HUB_TEST_REQUIRE_BROWSER=1 to make this an error")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


NewContext = Callable[..., BrowserContext]


@pytest.fixture
def new_context(browser: Browser, hub_server: HubServer) -> Iterator[NewContext]:
    """A factory of fresh browser contexts (own cookies) on the hub, closed after the test.

    The browser asks for English: the hub must still answer in French, its default, since it
    ignores Accept-Language on purpose (see hub.i18n.pick_locale).
    """
    contexts: list[BrowserContext] = []

    def factory(**options: Any) -> BrowserContext:
        context = browser.new_context(
            **{"base_url": hub_server.base_url, "locale": "en-US", **options}
        )
        contexts.append(context)
        return context

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: NewContext) -> Page:
    """A page in a fresh context, JavaScript on."""
    return new_context().new_page()


@pytest.fixture
def teacher_storage_state(browser: Browser, hub_server: HubServer) -> StorageState:
    """The password teacher's cookies after one real sign-in, for tests that start signed in.

    One sign-in per test (a production-strength Argon2 check, about a second): signing out
    ends every session of the account (sessions are signed cookies; the account's
    `session_version` is bumped), so cookies kept from an earlier test may be dead by now.
    Use with `new_context(storage_state=...)`.
    """
    context = browser.new_context(base_url=hub_server.base_url, locale="en-US")
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("E-mail").fill(hub_server.teacher_email)
        page.get_by_label("Mot de passe").fill(hub_server.teacher_password)
        page.get_by_role("button", name="Se connecter", exact=True).click()
        page.wait_for_url(hub_server.base_url + "/")
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture(scope="session")
def results_dir() -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    return RESULTS_DIR
