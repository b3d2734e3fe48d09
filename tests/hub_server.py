"""Starting the hub as its users' machines do: `hub` commands and `hub serve` in processes
of their own, for the browser (e2e) and reliability tests alike."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_client(base_url: str, timeout: float = 10.0) -> httpx.Client:
    # Straight to 127.0.0.1, whatever http_proxy says.
    return httpx.Client(base_url=base_url, timeout=timeout, trust_env=False)


def hub_env(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """Only this test's settings: no HUB_* from the caller's shell."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env.update(
        HUB_ENV="test",
        HUB_DATA_DIR=str(data_dir),
        HUB_DATABASE_URL=database_url,
        HUB_SECRET_KEY=secrets.token_urlsafe(48),
        HUB_SCHEDULER_IN_WEB="0",
        PYTHONUNBUFFERED="1",
    )
    env.update({f"HUB_{name.upper()}": value for name, value in settings.items()})
    return env


@dataclass
class HubProcess:
    """`hub serve` or `hub worker` started in its own process group, output in a log file."""

    args: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, *, wait: bool = True) -> HubProcess:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start #{self.starts}: hub {' '.join(self.args)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", *self.args],
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait and self.port:
            self.wait_healthy()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        last = "no answer yet"
        with http_client(self.base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise AssertionError(f"hub {self.args[0]} exited early:\n{self.tail()}")
                try:
                    response = client.get("/healthz")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                time.sleep(0.1)
        raise AssertionError(f"hub not healthy in time (last: {last}):\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown handler runs (a crash)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()


CLI_TIMEOUT_SECONDS = 120.0


def run_cli(env: dict[str, str], cwd: Path, *args: str, stdin: str | None = None) -> str:
    # A new session has no controlling terminal: getpass cannot open /dev/tty (which would
    # wait for someone at the keyboard) and reads the password prompt's answer from stdin.
    try:
        result = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            env=env,
            cwd=cwd,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
            start_new_session=True,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`hub {' '.join(args)}` did not finish in {exc.timeout:.0f}s", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"`hub {' '.join(args)}` exited with {result.returncode}:\n"
            f"{result.stdout}{result.stderr}",
            pytrace=False,
        )
    return result.stdout


@contextmanager
def serving(env: dict[str, str], cwd: Path, port: int) -> Iterator[HubProcess]:
    """`hub serve` on 127.0.0.1:`port`, healthy on entry, stopped on exit."""
    server = HubProcess(
        args=("serve", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        cwd=cwd,
        log_path=cwd / "server.log",
        port=port,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
