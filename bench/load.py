"""Exam pages under load: the exam-morning rush, measured end to end over HTTP.

    .venv/bin/python -m bench.load [--workers 4 --workers 2] [--backend sqlite|postgresql]
                                   [--duration 15] [--generator auto|wrk|python]

Each target is served the way production serves it (`hub serve --workers N`, HUB_ENV=production,
demo data and the knowledge base loaded as `make run` does) and loaded from a second process on
127.0.0.1 with 200 concurrent keep-alive connections: `wrk` when installed (`apt-get install
wrk`), else a small asyncio generator in this module. Next to it, a minimal ASGI "hello" app
(bench/hello_app.py) served by the same uvicorn call gives the ceiling of the machine.

Mixes: "exams" rotates exam searches, exam pages and the JSON API; "exams-304" sends the same
URLs with If-None-Match (a browser reloading). Target: >= 50% of the ceiling's requests/s,
p99 < 250 ms, no errors. From `make bench`: `bench.load.run(results)`; standalone it writes
bench/results/exam-load-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.memory import hub_worker, process_figures, process_group

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
KB_CONTENT = REPO / "kb" / "content"
POSTGRES_ADMIN_URL = os.environ.get(
    "HUB_BENCH_POSTGRES_URL",
    os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)

TARGET_RATIO = 0.5  # of the hello ceiling's requests/s
TARGET_P99_MS = 250.0
README_WORKERS = 4  # README "Production": hub serve --workers 4

# The exam-morning mix: searches by code and by name, every demo exam page, the JSON API.
EXAM_PATHS = [
    "/exams?q=math",
    "/exams?q=mat101",
    "/exams?q=chimie",
    "/exams/1",
    "/exams/2",
    "/exams/3",
    "/exams/4",
    "/exams/5",
    "/exams/6",
    "/api/exams?q=eco",
]
HELLO_PATHS = ["/"]

Log = Callable[[str], None]


def _log(message: str) -> None:
    sys.stderr.write(f"[bench.load {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


@dataclass
class Options:
    workers: tuple[int, ...] = (README_WORKERS, 2)
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    duration: float = 15.0  # seconds measured, exam mix and ceiling
    conditional_duration: float = 10.0  # seconds measured, If-None-Match mix
    warmup: float = 3.0
    connections: int = 200
    threads: int = 2
    timeout: float = 10.0  # per request; slower counts as an error (wrk's default is 2 s)
    generator: str = "auto"  # auto: wrk when installed, else the asyncio generator
    log: Log = field(default=_log)


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any HUB_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(extra)
    return env


def hub_command() -> list[str]:
    script = Path(sys.executable).parent / "hub"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "hub.cli"]


def machine_busy_cpu_s() -> float:
    """CPU seconds spent by the whole machine (all cores, all processes) since boot."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Server:
    """A server in its own process group, ready when every worker finished its startup."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        port: int,
        workers: int,
        cwd: Path,
        log: Log,
    ) -> None:
        self.name, self.port, self.workers, self.log = name, port, workers, log
        self.log_path = cwd / f"{name}-{port}.log"
        self._log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, probe: str, timeout: float = 120.0) -> float:
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            text = self.log_path.read_text(errors="replace")
            if text.count("Application startup complete.") >= self.workers:
                try:
                    with urllib.request.urlopen(self.url + probe, timeout=10) as response:
                        response.read()
                    return time.monotonic() - started
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def figures(self) -> dict[str, Any]:
        """Per-process memory and CPU; workers are all but uvicorn's supervisor."""
        processes = [p for p in map(process_figures, process_group(self.process.pid)) if p]
        for p in processes:
            if self.workers > 1 and p["pid"] == self.process.pid:
                p["role"] = "supervisor"
            elif "resource_tracker" in p["cmd"]:
                p["role"] = "other"
            else:
                p["role"] = "worker"
        workers = [p for p in processes if p["role"] == "worker"]
        return {
            "processes": processes,
            "workers_seen": len(workers),
            "peak_rss_mb_workers": round(sum(p["peak_rss_mb"] for p in workers), 1),
            "peak_rss_mb_total": round(sum(p["peak_rss_mb"] for p in processes), 1),
            "cpu_s_total": round(sum(p["cpu_s"] for p in processes), 2),
        }

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def connections(self) -> dict[str, int]:
        """Established client connections held by each process of the server (by pid): the
        kernel hands a burst of new connections to whichever worker accepts first."""
        inodes: dict[str, str] = {}
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                rows = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                cells = row.split()
                if int(cells[1].rsplit(":", 1)[1], 16) == self.port and cells[3] == "01":
                    inodes[f"socket:[{cells[9]}]"] = cells[9]
        counts: dict[str, int] = {}
        for pid in process_group(self.process.pid):
            try:
                fds = list(Path(f"/proc/{pid}/fd").iterdir())
            except OSError:
                continue
            held = 0
            for fd in fds:
                with contextlib.suppress(OSError):
                    held += os.readlink(fd) in inodes
            if held:
                counts[str(pid)] = held
        return counts

    def errors(self, limit: int = 10) -> list[str]:
        """Error lines of the server's log (the last line of each traceback), at most `limit`
        distinct ones; the access log lines are skipped."""
        found: list[str] = []
        in_traceback = False
        where = ""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return found
        for line in lines:
            if line.startswith("Traceback"):
                in_traceback, where = True, ""
            elif (
                in_traceback
                and line.lstrip().startswith("File ")
                and ("/hub/" in line or "/kb/" in line)
            ):
                where = line.strip()  # the innermost frame of the project's own code
            elif in_traceback and line and not line.startswith((" ", "\t")):
                in_traceback = False
                entry = f"{line[:300]} ({where})" if where else line[:300]
                if entry not in found:
                    found.append(entry)
            elif line.startswith(("ERROR", "CRITICAL")) and line[:300] not in found:
                found.append(line[:300])
            if len(found) >= limit:
                break
        return found

    def stop(self) -> None:
        pgid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while process_group(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)  # stragglers of the group, if any
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self._log_file.close()


@contextlib.contextmanager
def serving(
    name: str,
    command: list[str],
    env: dict[str, str],
    workers: int,
    cwd: Path,
    log: Log,
    probe: str = "/",
) -> Iterator[Server]:
    port = free_port()
    server = Server(name, [*command, "--port", str(port)], env, port, workers, cwd, log)
    try:
        seconds = server.wait_ready(probe)
        log(f"{name}: {workers} workers ready on :{port} in {seconds:.1f} s")
        yield server
    finally:
        server.stop()


# --- databases ----------------------------------------------------------------------------


def run_hub(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [*hub_command(), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(f"hub {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def postgres_unreachable() -> str | None:
    try:
        import psycopg

        psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3).close()
    except Exception as exc:  # any failure: skip, and say why
        return f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {exc}".strip()
    return None


@contextlib.contextmanager
def private_database(backend: str, workdir: Path) -> Iterator[str]:
    """The URL of a new, empty database of our own: a SQLite file in `workdir`, or a
    PostgreSQL database created from the admin URL and dropped (WITH FORCE) at the end."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'bench-{secrets.token_hex(4)}.sqlite3'}"
        return
    import psycopg

    name = f"hub_bench_{os.getpid()}_{secrets.token_hex(4)}"
    admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with contextlib.suppress(Exception):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextlib.contextmanager
def hub_database(backend: str, workdir: Path, log: Log) -> Iterator[dict[str, str]]:
    """`make run`'s setup (migrations, demo data, knowledge base) in a fresh database; yields
    the production environment of `hub serve` for it."""
    data_dir = workdir / f"data-{backend}"
    data_dir.mkdir()
    env = {"HUB_DATA_DIR": str(data_dir)}
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            env["HUB_DATABASE_URL"] = stack.enter_context(private_database(backend, workdir))
        setup_env = clean_environment(**env)  # development, like `make run` (demo refused in prod)
        started = time.perf_counter()
        run_hub(["db", "upgrade"], setup_env, workdir)
        demo = run_hub(["demo", "load"], setup_env, workdir)
        kb = run_hub(["kb", "import", str(KB_CONTENT)], setup_env, workdir)
        log(
            f"{backend}: set up in {time.perf_counter() - started:.1f} s "
            f"({demo.splitlines()[-1]}; {kb.splitlines()[0]})"
        )
        # production, with the scheduler in a dedicated `hub worker` (README "Production")
        yield clean_environment(
            **env,
            HUB_ENV="production",
            HUB_SECRET_KEY=secrets.token_urlsafe(48),
            HUB_SCHEDULER_IN_WEB="false",
        )


def postgres_version() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    except Exception:
        return None


# --- load generators ----------------------------------------------------------------------

WRK_SCRIPT = """
local paths = {%(paths)s}
local etags = {%(etags)s}
local threads = {}
local counter = 0
statuses = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local i = (counter %% #paths) + 1
  local headers = {}
  if etags[i] ~= "" then headers["If-None-Match"] = etags[i] end
  return wrk.format("GET", paths[i], headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("BENCH status %%d %%d\\n", status, count))
  end
  local e = summary.errors
  io.write(string.format("BENCH summary %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.duration,
    summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
  for _, p in ipairs({50, 75, 90, 99, 99.9}) do
    io.write(string.format("BENCH pct %%g %%d\\n", p, latency:percentile(p)))
  end
  io.write(string.format("BENCH latency %%d %%d %%f\\n", latency.min, latency.max, latency.mean))
end
"""


def _lua_strings(values: list[str]) -> str:
    return ", ".join(json.dumps(v) for v in values)  # JSON string escapes are valid Lua here


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    rank = q / 100 * (len(sorted_values) - 1)
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def _finish(raw: dict[str, Any], cpu_s: float) -> dict[str, Any]:
    errors = raw["errors"]
    total_errors = sum(errors.values())
    duration = raw["duration_s"]
    return {
        **raw,
        "rps": round(raw["requests"] / duration, 1) if duration else 0.0,
        "errors_total": total_errors,
        "generator_cpu_s": round(cpu_s, 2),
    }


def run_wrk(
    base_url: str, paths: list[str], etags: list[str], duration: float, options: Options
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            WRK_SCRIPT
            % {"paths": _lua_strings(paths), "etags": _lua_strings(etags or [""] * len(paths))}
        )
    try:
        command = [
            "wrk",
            f"-t{options.threads}",
            f"-c{options.connections}",
            f"-d{max(1, round(duration))}s",
            f"--timeout={max(1, round(options.timeout))}s",
            "--latency",
            "-s",
            script.name,
            base_url + "/",
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        output = process.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        os.unlink(script.name)
    if process.returncode != 0 or "BENCH summary" not in output:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    statuses: dict[str, int] = {}
    percentiles: dict[str, float] = {}
    summary: list[int] = []
    latency: list[float] = []
    for line in output.splitlines():
        parts = line.split()
        if parts[:2] == ["BENCH", "status"]:
            statuses[parts[2]] = int(parts[3])
        elif parts[:2] == ["BENCH", "summary"]:
            summary = [int(x) for x in parts[2:]]
        elif parts[:2] == ["BENCH", "pct"]:
            percentiles[f"p{parts[2]}"] = int(parts[3]) / 1000
        elif parts[:2] == ["BENCH", "latency"]:
            latency = [float(x) for x in parts[2:]]
    duration_us, requests, nbytes, connect, read, write, bad_status, timeout = summary
    rps_line = re.search(r"Requests/sec:\s+([\d.]+)", output)
    return _finish(
        {
            "generator": "wrk",
            "duration_s": round(duration_us / 1e6, 3),
            "requests": requests,
            "bytes": nbytes,
            "latency_ms": {
                **{k: round(v, 2) for k, v in percentiles.items()},
                "mean": round(latency[2] / 1000, 2),
                "max": round(latency[1] / 1000, 2),
            },
            "errors": {
                "connect": connect,
                "read": read,
                "write": write,
                "timeout": timeout,
                "status": bad_status,  # answers other than 2xx/3xx
            },
            "statuses": dict(sorted(statuses.items())),
            "wrk_requests_per_s": float(rps_line.group(1)) if rps_line else None,
        },
        usage.ru_utime + usage.ru_stime,
    )


# The fallback generator: keep-alive HTTP/1.1 over asyncio streams, one coroutine per
# connection, run in a child process (`python -m bench.load --generate SPEC`).


async def _one_connection(
    host: str,
    port: int,
    requests: list[bytes],
    offset: int,
    deadline: float,
    timeout: float,
    tally: dict[str, Any],
) -> None:
    index = offset
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.monotonic() < deadline:
        if writer is None:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), timeout
                )
            except (OSError, TimeoutError):
                tally["errors"]["connect"] += 1
                await asyncio.sleep(0.05)
                continue
        assert reader is not None and writer is not None
        request = requests[index % len(requests)]
        index += 1
        started = time.perf_counter()
        try:
            writer.write(request)
            status, size = await asyncio.wait_for(_read_response(reader), timeout)
        except TimeoutError:
            tally["errors"]["timeout"] += 1
            writer.close()
            writer = None
            continue
        except (OSError, asyncio.IncompleteReadError, ValueError):
            tally["errors"]["read"] += 1
            writer.close()
            writer = None
            continue
        if time.monotonic() > deadline:
            break
        tally["latencies"].append(time.perf_counter() - started)
        tally["bytes"] += size
        tally["statuses"][status] = tally["statuses"].get(status, 0) + 1
        if not 200 <= status < 400:
            tally["errors"]["status"] += 1
    if writer is not None:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status, len(head) + length


async def _generate(spec: dict[str, Any]) -> dict[str, Any]:
    host, port = spec["host"], spec["port"]
    requests = []
    for path, etag in zip(spec["paths"], spec["etags"] or [""] * len(spec["paths"]), strict=True):
        extra = f"If-None-Match: {etag}\r\n" if etag else ""
        requests.append(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench.load\r\n"
            f"Accept: */*\r\n{extra}\r\n".encode()
        )
    tally: dict[str, Any] = {
        "latencies": [],
        "bytes": 0,
        "statuses": {},
        "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0},
    }
    started = time.monotonic()
    deadline = started + spec["duration"]
    await asyncio.gather(
        *(
            _one_connection(host, port, requests, i, deadline, spec["timeout"], tally)
            for i in range(spec["connections"])
        )
    )
    elapsed = time.monotonic() - started
    latencies = sorted(tally["latencies"])
    ms = [x * 1000 for x in latencies]
    return {
        "generator": "python-asyncio",
        "duration_s": round(elapsed, 3),
        "requests": len(latencies),
        "bytes": tally["bytes"],
        "latency_ms": {
            **{f"p{q:g}": round(_percentile(ms, q), 2) for q in (50, 75, 90, 99, 99.9)},
            "mean": round(sum(ms) / len(ms), 2) if ms else 0.0,
            "max": round(ms[-1], 2) if ms else 0.0,
        },
        "errors": tally["errors"],
        "statuses": {str(k): v for k, v in sorted(tally["statuses"].items())},
    }


def run_python_generator(
    base_url: str, paths: list[str], etags: list[str], duration: float, options: Options
) -> dict[str, Any]:
    host, port = base_url.removeprefix("http://").split(":")
    spec = {
        "host": host,
        "port": int(port),
        "paths": paths,
        "etags": etags,
        "duration": duration,
        "connections": options.connections,
        "timeout": options.timeout,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.load", "--generate", json.dumps(spec)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = process.communicate(timeout=duration + 120)
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{stderr.decode(errors='replace')}")
    raw = json.loads(stdout)
    return _finish(raw, raw.pop("_cpu_s"))


def generator_name(options: Options) -> str:
    if options.generator == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if options.generator == "wrk" and not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install wrk), use --generator python")
    return options.generator


def load(
    base_url: str,
    paths: list[str],
    duration: float,
    options: Options,
    etags: list[str] | None = None,
) -> dict[str, Any]:
    generate = run_wrk if generator_name(options) == "wrk" else run_python_generator
    return generate(base_url, paths, etags or [], duration, options)


def fetch_etags(base_url: str, paths: list[str]) -> list[str]:
    etags = []
    for path in paths:
        with urllib.request.urlopen(base_url + path, timeout=10) as response:
            response.read()
            etags.append(response.headers.get("ETag") or "")
    return etags


# --- the runs -----------------------------------------------------------------------------


def measure(
    server: Server,
    target: str,
    backend: str | None,
    mix: str,
    paths: list[str],
    duration: float,
    options: Options,
    *,
    warmup: bool,
    conditional: bool = False,
) -> dict[str, Any]:
    if warmup and options.warmup > 0:
        load(server.url, paths, options.warmup, options)
    etags = fetch_etags(server.url, paths) if conditional else []
    before, busy_before = server.figures(), machine_busy_cpu_s()
    spread: dict[str, int] = {}
    snapshot = threading.Timer(duration / 2, lambda: spread.update(server.connections()))
    snapshot.start()
    try:
        result = load(server.url, paths, duration, options, etags)
    finally:
        snapshot.cancel()
    after, busy = server.figures(), machine_busy_cpu_s() - busy_before
    server_cpu = after["cpu_s_total"] - before["cpu_s_total"]
    other_cpu = max(0.0, busy - server_cpu - result["generator_cpu_s"])
    run = {
        "target": target,
        "backend": backend,
        "workers": server.workers,
        "mix": mix,
        "paths": paths,
        "if_none_match": bool(etags),
        **result,
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_request": (
            round(server_cpu * 1000 / result["requests"], 3) if result["requests"] else None
        ),
        # CPU of everything else on the machine during the run, in cores: should be ~0
        "other_cpu_cores": round(other_cpu / result["duration_s"], 2)
        if result["duration_s"]
        else None,
        "load_average": round(os.getloadavg()[0], 2),
        # connections per worker half-way through: uneven when one worker accepted the burst
        "connections_per_worker": sorted(spread.values(), reverse=True),
        "memory": {k: v for k, v in after.items() if k != "cpu_s_total"},
    }
    lat = result["latency_ms"]
    options.log(
        f"{target}/{backend or '-'}/{mix} x{server.workers}: {result['rps']:.0f} req/s, "
        f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, {result['errors_total']} errors, "
        f"statuses {result['statuses']}, server CPU {run['server_cpu_ms_per_request']} ms/req"
    )
    if (run["other_cpu_cores"] or 0) > 0.25:
        options.log(
            f"WARNING: other processes used {run['other_cpu_cores']} cores during this run; "
            "the figures are understated"
        )
    return run


def judge(runs: list[dict[str, Any]]) -> None:
    """Ratio to the ceiling of the same worker count, and the verdict against the target."""
    ceilings = {r["workers"]: r["rps"] for r in runs if r["target"] == "hello"}
    for run in runs:
        ceiling = ceilings.get(run["workers"])
        run["ratio_to_ceiling"] = round(run["rps"] / ceiling, 3) if ceiling else None
        run["meets_target"] = run["target"] == "hello" or (
            run["ratio_to_ceiling"] is not None
            and run["ratio_to_ceiling"] >= TARGET_RATIO
            and run["latency_ms"]["p99"] < TARGET_P99_MS
            and run["errors_total"] == 0
        )


def table(result: dict[str, Any]) -> str:
    columns = [
        ("target", 6, "<"),
        ("backend", 10, "<"),
        ("mix", 9, "<"),
        ("wk", 2, ">"),
        ("req/s", 8, ">"),
        ("p50", 7, ">"),
        ("p99", 7, ">"),
        ("errors", 6, ">"),
        ("ceiling", 7, ">"),
        ("RSS MB", 7, ">"),
        ("CPU ms", 7, ">"),
        ("other", 5, ">"),
        ("ok", 3, "<"),
        ("conns/worker", 15, "<"),
    ]
    target = result["target"]
    lines = [
        f"Exam pages under load: {result['settings']['connections']} connections, "
        f"{result['settings']['duration_s']:g} s ({result['settings']['conditional_duration_s']:g}"
        f" s for 304), generator {result['generator']}; target >= "
        f"{target['ratio_to_ceiling']:.0%} of the ceiling, p99 < {target['p99_ms']:g} ms, "
        "0 errors",
        " ".join(f"{name:{align}{width}}" for name, width, align in columns),
    ]
    for run in result["runs"]:
        ratio = run.get("ratio_to_ceiling")
        cells = [
            run["target"],
            run["backend"] or "-",
            run["mix"],
            run["workers"],
            f"{run['rps']:.0f}",
            f"{run['latency_ms']['p50']:.1f}",
            f"{run['latency_ms']['p99']:.1f}",
            run["errors_total"],
            f"{ratio:.0%}" if ratio is not None and run["target"] != "hello" else "-",
            f"{run['memory']['peak_rss_mb_workers']:.0f}",
            f"{run['server_cpu_ms_per_request'] or 0:.2f}",
            f"{run['other_cpu_cores'] or 0:.2f}",
            "-" if run["target"] == "hello" else ("yes" if run["meets_target"] else "NO"),
            "/".join(map(str, run["connections_per_worker"])) or "?",
        ]
        lines.append(
            " ".join(
                f"{cell:{align}{width}}"
                for cell, (_, width, align) in zip(cells, columns, strict=True)
            )
        )
    lines.append(
        "wk: uvicorn workers; p50/p99: ms; ceiling: share of the hello app's req/s at the same "
        "worker count; RSS: peak RSS summed over workers; CPU ms: server CPU per request; "
        "other: cores used by unrelated processes meanwhile (should be ~0); conns/worker: "
        "client connections held by each worker half-way through"
    )
    for what, reason in result["skipped"].items():
        lines.append(f"SKIPPED {what}: {reason}")
    return "\n".join(lines)


def run(results: dict[str, Any], options: Options | None = None) -> None:
    """Run every target and store the outcome in results["benchmarks"]["exam_load"]."""
    options = options or Options()
    log = options.log
    started = time.perf_counter()
    generator = generator_name(options)
    result: dict[str, Any] = {
        "description": (
            "HTTP load on the exam search and exam pages: hub serve --workers N (production "
            "settings, make run's demo data) vs a minimal ASGI hello app served the same way; "
            "load generator in a second process on 127.0.0.1"
        ),
        "target": {
            "ratio_to_ceiling": TARGET_RATIO,
            "p99_ms": TARGET_P99_MS,
            "errors": 0,
            "headline_workers": README_WORKERS,
        },
        "generator": generator,
        "settings": {
            "connections": options.connections,
            "threads": options.threads,
            "duration_s": options.duration,
            "conditional_duration_s": options.conditional_duration,
            "warmup_s": options.warmup,
            "timeout_s": options.timeout,
            "workers": list(options.workers),
            "backends": list(options.backends),
        },
        "runs": [],
        "skipped": {},
    }
    if generator == "wrk":
        version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
        result["wrk_version"] = version.splitlines()[0] if version else None
    log(f"load generator: {generator}; workers {list(options.workers)}; {options.backends}")
    busy = machine_busy_cpu_s()
    time.sleep(2)
    result["machine_busy_cores_before"] = round((machine_busy_cpu_s() - busy) / 2, 2)
    if result["machine_busy_cores_before"] > 0.25:
        log(
            f"WARNING: the machine is already busy ({result['machine_busy_cores_before']} cores "
            "used by other processes): the figures will be understated"
        )
    runs: list[dict[str, Any]] = result["runs"]
    with tempfile.TemporaryDirectory(prefix="hub-load-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        databases: dict[str, dict[str, str]] = {}
        for backend in options.backends:
            if backend == "postgresql":
                reason = postgres_unreachable()
                if reason:
                    result["skipped"]["postgresql"] = reason
                    log(f"SKIPPED postgresql: {reason} (set HUB_BENCH_POSTGRES_URL)")
                    continue
                result["postgresql_version"] = postgres_version()
            databases[backend] = stack.enter_context(hub_database(backend, workdir, log))
        hello_env = clean_environment(PYTHONPATH=str(REPO))
        for workers in options.workers:
            hello = [sys.executable, "-m", "bench.hello_app", "--workers", str(workers)]
            with serving("hello", hello, hello_env, workers, workdir, log) as server:
                runs.append(
                    measure(
                        server, "hello", None, "hello", HELLO_PATHS, options.duration, options,
                        warmup=True,
                    )
                )  # fmt: skip
            for backend, env in databases.items():
                command = [*hub_command(), "serve", "--workers", str(workers)]
                name = f"hub-{backend}"
                worker_name = f"hub-worker-{backend}-x{workers}"
                with (
                    hub_worker(hub_command(), env, workdir, worker_name, log) as scheduler,
                    serving(name, command, env, workers, workdir, log, "/healthz") as server,
                ):
                    runs.append(
                        measure(
                            server, "hub", backend, "exams", EXAM_PATHS, options.duration,
                            options, warmup=True,
                        )
                    )  # fmt: skip
                    runs.append(
                        measure(
                            server, "hub", backend, "exams-304", EXAM_PATHS,
                            options.conditional_duration, options, warmup=False, conditional=True,
                        )
                    )  # fmt: skip
                    errors = server.errors()
                    if errors:
                        runs[-1]["server_log_errors"] = errors
                        log(f"{name} x{workers}: {len(errors)} errors in its log, e.g. {errors[0]}")
                    worker = scheduler.stop()
                    for run_ in runs[-2:]:
                        run_["scheduler_worker"] = worker
                    log(f"{worker_name}: peak RSS {worker['peak_rss_mb']} MB")
    judge(runs)
    headline_workers = README_WORKERS if README_WORKERS in options.workers else max(options.workers)
    result["target"]["headline_workers"] = headline_workers
    headline = [
        r for r in runs if r["target"] == "hub" and r["mix"] == "exams"
        and r["workers"] == headline_workers
    ]  # fmt: skip
    result["meets_target"] = bool(headline) and all(r["meets_target"] for r in headline)
    result["duration_seconds"] = round(time.perf_counter() - started, 1)
    results.setdefault("benchmarks", {})["exam_load"] = result


def git_revision() -> str | None:
    """The commit measured (+dirty when hub/ or kb/ have uncommitted changes)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "hub", "kb"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--workers", type=int, action="append", help="default: 4 then 2")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per measured run")
    parser.add_argument("--conditional-duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # the fallback generator's child
    args = parser.parse_args(argv)

    if args.generate:
        cpu = time.process_time()
        out = asyncio.run(_generate(json.loads(args.generate)))
        out["_cpu_s"] = time.process_time() - cpu
        sys.stdout.write(json.dumps(out))
        return 0

    options = Options(
        workers=tuple(args.workers or (README_WORKERS, 2)),
        backends=tuple(args.backend or ("sqlite", "postgresql")),
        duration=args.duration,
        conditional_duration=args.conditional_duration,
        warmup=args.warmup,
        connections=args.connections,
        generator=args.generator,
    )
    when = datetime.now(UTC)
    results: dict[str, Any] = {
        "when": when.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]},
        "python": sys.version.split()[0],
        "git": git_revision(),
        "benchmarks": {},
    }
    run(results, options)
    outcome = results["benchmarks"]["exam_load"]
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"exam-load-{when.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.write(table(outcome) + f"\n{outcome['duration_seconds']} s; wrote {path}\n")
    return 1 if args.check and not outcome["meets_target"] else 0


if __name__ == "__main__":
    sys.exit(main())
