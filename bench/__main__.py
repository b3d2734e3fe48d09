"""`make bench`: runs every benchmark of the hub on SQLite and PostgreSQL, prints a table and
writes bench/results/latest.json (and a timestamped copy, bench/results/<UTC time>.json).

    .venv/bin/python -m bench [--only search,load,questions,sweep,webinars,rush] [--quick]
                              [--backend sqlite|postgresql] [--check] [--articles 5000] ...

- search: kb.search.search latency in-process (bench/search.py), target p95 < 20 ms;
- load: exam pages under 200 connections over HTTP, `hub serve` next to a hello ASGI app
  served the same way (bench/load.py), target >= 50% of its req/s, p99 < 250 ms, 0 errors;
- questions: question submission through the service layer next to a trivial-INSERT ceiling
  on the same database (bench/questions.py);
- sweep: the SLA sweep with 50,000 open questions, in-process and in a real `hub worker`;
- webinars: 500 concurrent registrations on a 300-seat session (bench/webinars.py), target:
  exactly 300 seated, the rest waitlisted;
- rush: people, not URLs (bench/rush.py): students, signed-in teachers, referents and the
  e-learning team over real sessions at 64 and 200 connections on `hub serve --workers 2` with
  the scheduler, beside the hello app; targets: no error, no stall, every acknowledged write
  present, search-as-you-type >= 15% and an anonymous article page >= 30% of the hello app's
  req/s, the KB index page < 50 ms at 5,000 articles. Also written to rush-<UTC time>.json.
Peak memory (RSS high-water mark) of the web workers and of the `hub worker` is reported.
`--quick` runs everything with small sizes (2-3 minutes) to check the harness works; it writes
bench/results/latest-quick.json, and a subset writes latest-partial.json: only a complete run
replaces latest.json.

PostgreSQL is the admin URL of the tests (HUB_BENCH_POSTGRES_URL, else HUB_TEST_POSTGRES_URL,
else postgresql://postgres@127.0.0.1:5432/test); each benchmark creates its own database there
and drops it. Unreachable: skipped, said so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import load, memory, questions, rush, search, webinars

RESULTS = Path(__file__).parent / "results"


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def git_revision() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "hub", "kb", "webinars"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def environment() -> dict[str, Any]:
    return {
        "machine": {
            "platform": platform.platform(),
            "architecture": platform.machine(),
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "memory_gb": memory_gb(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": version("sqlalchemy"),
            "psycopg": version("psycopg"),
            "rapidfuzz": version("rapidfuzz"),
            "pystemmer": version("pystemmer"),
        },
        "git": git_revision(),
    }


def table(result: dict[str, Any]) -> str:
    columns = "backend corpus articles vocab n x median p95 p99 max cold vocab raw-p95 ok".split()
    widths = [11, 13, 8, 6, 5, 4, 7, 7, 7, 7, 7, 7, 8, 3]
    header = " ".join(
        f"{name:<{w}}" if i < 2 else f"{name:>{w}}"
        for i, (name, w) in enumerate(zip(columns, widths, strict=True))
    )
    lines = [
        "Search latency, server side (kb.search.search, limit=10, viewer: teacher), "
        f"target p95 < {result['target_p95_ms']:g} ms",
        header,
    ]
    for run in result["runs"]:
        warm, stats, cold = run["warm"], run["corpus_stats"], run["cold"]
        cells = [
            run["backend"],
            run["corpus"],
            stats["published"],
            stats["vocabulary_terms"],
            warm["n"],
            f"{warm['rounds']:g}",
            *(f"{warm[k]:.2f}" for k in ("median_ms", "p95_ms", "p99_ms", "max_ms")),
            f"{cold['first_query_ms']:.1f}",
            f"{cold['vocabulary_build_ms']:.1f}",
            f"{run['raw_candidate_query']['p95_ms']:.2f}",
            "yes" if warm["meets_target"] else "NO",
        ]
        lines.append(
            " ".join(
                f"{cell:<{w}}" if i < 2 else f"{cell:>{w}}"
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    lines.append(
        "ms; articles: published; vocab: index terms; n: timed searches (x: rounds of every "
        "query, fewer if the time budget ran out);\ncold: first search of a fresh process; "
        "vocab: vocabulary build; raw-p95: candidate SQL alone (FTS5 MATCH / tsvector @@, ids)"
    )
    if result["runs"]:
        names = list(result["runs"][0]["stages"]["mean_ms"])
        lines += ["", "Mean ms per search by step of kb.search.search (instrumented pass):"]
        lines.append(f"{'':<26}" + "".join(f"{n.strip('_')[:11]:>12}" for n in names))
        for run in result["runs"]:
            means = run["stages"]["mean_ms"]
            label = f"{run['backend']}/{run['corpus']}"
            lines.append(f"{label:<26}" + "".join(f"{means[n]:>12.2f}" for n in names))
    for backend, reason in result["skipped"].items():
        lines.append(f"SKIPPED {backend}: {reason}")
    return "\n".join(lines)


SECTIONS = ("search", "load", "questions", "sweep", "webinars", "rush")
SWEEP_JOB = "questions-sweep"
SWEEP_INTERVAL_S = 300.0  # HUB_QUESTIONS_SWEEP_SECONDS' default: a pass must end before the next


@dataclass
class Sizes:
    articles: int = 5_000
    repeats: int = 5
    budget: float = 30.0
    load_workers: tuple[int, ...] = (load.README_WORKERS, 2)
    load_duration: float = 15.0
    load_conditional_duration: float = 10.0
    load_warmup: float = 3.0
    submissions: int = questions.SUBMISSIONS
    open_questions: int = questions.OPEN_QUESTIONS
    capacity: int = webinars.CAPACITY
    people: int = webinars.PEOPLE
    threads: int = webinars.THREADS
    rush_connections: tuple[int, ...] = rush.CONNECTIONS
    rush_focus_connections: int = rush.FOCUS_CONNECTIONS
    rush_duration: float = 15.0
    rush_warmup: float = 3.0


QUICK = Sizes(
    articles=200,
    repeats=1,
    budget=3.0,
    load_workers=(2,),
    load_duration=3.0,
    load_conditional_duration=2.0,
    load_warmup=1.0,
    submissions=30,
    open_questions=2_000,
    capacity=30,
    people=50,
    threads=8,
    rush_connections=(32,),
    rush_focus_connections=32,
    rush_duration=3.0,
    rush_warmup=1.0,
)


def guarded(what: str, section: dict[str, Any], call: Callable[..., Any], *args: Any) -> Any:
    """Run one benchmark; a crash is recorded in its section (and fails --check), not fatal."""
    try:
        return call(*args)
    except Exception as exc:  # a broken benchmark must not hide the others' figures
        log(f"FAILED {what}: {exc!r}")
        section.setdefault("errors", []).append(
            {"what": what, "error": repr(exc)[:2000], "traceback": traceback.format_exc()[-4000:]}
        )
        return None


def worker_environment(url: str, data_dir: Path) -> dict[str, str]:
    return load.clean_environment(
        HUB_DATABASE_URL=url,
        HUB_DATA_DIR=str(data_dir),
        HUB_ENV="production",
        HUB_SECRET_KEY=secrets.token_urlsafe(48),
        HUB_SCHEDULER_IN_WEB="false",
    )


def run_questions(
    backend: str, workdir: Path, sizes: Sizes, submit: bool, sweep: bool
) -> dict[str, Any]:
    """Submission and/or sweep in-process on a private database; then, after a sweep, a real
    `hub worker` on the same 50,000 questions (at the real clock, when every one of them is
    overdue): its first questions-sweep run and its peak memory."""
    with load.private_database(backend, workdir) as url:
        log(f"{backend}: questions ({'submission ' if submit else ''}{'sweep' if sweep else ''})")
        out = questions.run(
            url,
            open_questions=sizes.open_questions,
            submissions=sizes.submissions,
            submit=submit,
            sweep=sweep,
        )
        if sweep:
            data_dir = workdir / f"worker-{backend}"
            data_dir.mkdir()
            env = worker_environment(url, data_dir)
            name = f"hub-worker-sweep-{backend}"
            with memory.hub_worker(load.hub_command(), env, workdir, name, log) as worker:
                job = worker.wait_for_job(SWEEP_JOB)
                figures = worker.stop()
            out["sweep"]["worker"] = {
                "job": SWEEP_JOB,
                "sweep_seconds": job["seconds"],
                "sweep_error": job["error"],
                **figures,
            }
            log(
                f"{name}: first sweep {job['seconds']} s, peak RSS {figures['peak_rss_mb']} MB"
                + (f", ERROR {job['error'][:200]}" if job["error"] else "")
            )
    return out


def run_webinars(backend: str, workdir: Path, sizes: Sizes) -> dict[str, Any]:
    with load.private_database(backend, workdir) as url:
        log(f"{backend}: webinar registration burst")
        return webinars.run(
            url, capacity=sizes.capacity, people=sizes.people, threads=sizes.threads
        )


def run_database_benchmarks(
    results: dict[str, Any], sections: set[str], backends: tuple[str, ...], sizes: Sizes
) -> None:
    """questions, sweep, webinars: each backend, each in its own private database."""
    benchmarks = results["benchmarks"]
    wanted = [
        name
        for name, section in (
            ("questions", "questions"),
            ("sla_sweep", "sweep"),
            ("webinars", "webinars"),
        )
        if section in sections
    ]
    for name in wanted:
        benchmarks[name] = {"runs": [], "skipped": {}}
    if "questions" in benchmarks:
        benchmarks["questions"]["description"] = (
            "question submission, hub.questions.asking.ask() through the service layer, one "
            "transaction per question, single thread; ceiling: a trivial one-row INSERT "
            "committed the same way on the same database"
        )
    if "sla_sweep" in benchmarks:
        benchmarks["sla_sweep"]["description"] = (
            f"escalation.sweep() with {sizes.open_questions} open questions (1% past the "
            "first-response target): first, second and steady pass in-process; then a real "
            "`hub worker` on the same data at the real clock (all overdue): its first sweep"
        )
        benchmarks["sla_sweep"]["target"] = {"pass_ms_below": SWEEP_INTERVAL_S * 1000}
    if "webinars" in benchmarks:
        benchmarks["webinars"]["description"] = (
            f"{sizes.people} registrations from {sizes.threads} threads at once on a "
            f"{sizes.capacity}-seat session, one transaction each (webinars.registration)"
        )
        benchmarks["webinars"]["target"] = {"exact_seats": True}
    for backend in backends:
        if backend == "postgresql":
            reason = load.postgres_unreachable()
            if reason:
                log(f"SKIPPED postgresql: {reason} (set HUB_BENCH_POSTGRES_URL)")
                for name in wanted:
                    benchmarks[name]["skipped"]["postgresql"] = reason
                continue
        with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
            workdir = Path(tmp)
            submit, sweep = "questions" in sections, "sweep" in sections
            if submit or sweep:
                section = benchmarks.get("questions") or benchmarks["sla_sweep"]
                out = guarded(
                    f"questions/{backend}",
                    section,
                    run_questions,
                    backend,
                    workdir,
                    sizes,
                    submit,
                    sweep,
                )
                if out and out["submission"]:
                    benchmarks["questions"]["runs"].append(
                        {"backend": backend, **out["submission"]}
                    )
                    sub = out["submission"]
                    log(
                        f"{backend}: {sub['per_second']} questions/s (p95 {sub['p95_ms']} ms), "
                        f"ceiling {sub['ceiling']['per_second']} inserts/s"
                    )
                if out and out["sweep"]:
                    run = {"backend": backend, **out["sweep"]}
                    run["meets_target"] = (
                        max(run["first_pass_ms"], run["second_pass_ms"], run["steady_pass_ms"])
                        < SWEEP_INTERVAL_S * 1000
                        and (run["worker"]["sweep_seconds"] or 0) < SWEEP_INTERVAL_S
                        and not run["worker"]["sweep_error"]
                    )
                    benchmarks["sla_sweep"]["runs"].append(run)
                    log(
                        f"{backend}: sweep of {run['open_questions']} open questions: first pass "
                        f"{run['first_pass_ms']} ms, steady {run['steady_pass_ms']} ms"
                    )
            if "webinars" in sections:
                section = benchmarks["webinars"]

                out = guarded(f"webinars/{backend}", section, run_webinars, backend, workdir, sizes)
                if out:
                    out["meets_target"] = bool(out["exact"])
                    section["runs"].append(out)
                    log(
                        f"{backend}: {out['registrations_per_second']} registrations/s, "
                        f"{out['registered']} seated / {out['waitlisted']} waitlisted, "
                        f"{out['errors']} failed {out['error_samples'][:1]}"
                    )


def memory_summary(benchmarks: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS of the web server workers (summed over uvicorn's workers, and the largest
    one) per target, backend and worker count, and of every `hub worker` started."""
    web: dict[tuple[str, str, int], dict[str, Any]] = {}
    scheduler: list[dict[str, Any]] = []
    for run in benchmarks.get("exam_load", {}).get("runs", []):
        key = (run["target"], run["backend"] or "-", run["workers"])
        workers = [p for p in run["memory"]["processes"] if p.get("role") == "worker"]
        entry = {
            "target": run["target"],
            "backend": run["backend"],
            "workers": run["workers"],
            "peak_rss_mb_workers": run["memory"]["peak_rss_mb_workers"],
            "peak_rss_mb_largest_worker": max((p["peak_rss_mb"] for p in workers), default=0),
            "peak_rss_mb_total": run["memory"]["peak_rss_mb_total"],
        }
        if key not in web or entry["peak_rss_mb_workers"] > web[key]["peak_rss_mb_workers"]:
            web[key] = entry
        worker = run.get("scheduler_worker")
        if worker and not any(
            s["phase"] == "exam load" and s["backend"] == run["backend"]
            and s["web_workers"] == run["workers"]
            for s in scheduler
        ):  # fmt: skip
            scheduler.append(
                {
                    "phase": "exam load",
                    "backend": run["backend"],
                    "web_workers": run["workers"],
                    "peak_rss_mb": worker["peak_rss_mb"],
                    "seconds_alive": worker["seconds_alive"],
                }
            )
    for run in benchmarks.get("sla_sweep", {}).get("runs", []):
        scheduler.append(
            {
                "phase": "sla sweep",
                "backend": run["backend"],
                "open_questions": run["open_questions"],
                "peak_rss_mb": run["worker"]["peak_rss_mb"],
                "seconds_alive": run["worker"]["seconds_alive"],
            }
        )
    return {
        "measure": "VmHWM (RSS high-water mark) of each process, read just before it stops",
        "web": list(web.values()),
        "scheduler_worker": scheduler,
    }


def failures(benchmarks: dict[str, Any]) -> list[str]:
    """Every missed target and every benchmark that crashed."""
    missed = []
    for name, section in benchmarks.items():
        for error in section.get("errors", []) if isinstance(section, dict) else []:
            missed.append(f"{name}: {error['what']} crashed")
    for run in benchmarks.get("search", {}).get("runs", []):
        if not run["warm"]["meets_target"]:
            missed.append(f"search {run['backend']}/{run['corpus']}: p95 {run['warm']['p95_ms']}")
    exam_load = benchmarks.get("exam_load")
    if exam_load is not None and not exam_load.get("meets_target"):
        missed.append("exam load: below 50% of the ceiling, p99 >= 250 ms or errors")
    for name in ("sla_sweep", "webinars"):
        for run in benchmarks.get(name, {}).get("runs", []):
            if not run["meets_target"]:
                missed.append(f"{name} {run['backend']}")
    missed += [f"rush {m}" for m in benchmarks.get("rush", {}).get("missed", [])]
    return missed


def _cells(widths: list[int], cells: list[Any]) -> str:
    return " ".join(f"{str(c):<{w}}" for c, w in zip(cells, widths, strict=True)).rstrip()


def summary_table(benchmarks: dict[str, Any]) -> str:
    """One line per benchmark and backend: the figure, the ceiling, the target, the verdict."""
    widths = [22, 11, 40, 34, 24, 3]
    rows = [["benchmark", "backend", "figure", "ceiling (same run)", "target", "ok"]]

    def ok(flag: bool | None) -> str:
        return "-" if flag is None else ("yes" if flag else "NO")

    for run in benchmarks.get("search", {}).get("runs", []):
        warm = run["warm"]
        rows.append(
            [
                f"search {run['corpus']}",
                run["backend"],
                f"p95 {warm['p95_ms']:.1f} ms (median {warm['median_ms']:.1f})",
                "-",
                "p95 < 20 ms",
                ok(warm["meets_target"]),
            ]
        )
    exam_load = benchmarks.get("exam_load", {})
    hello = {r["workers"]: r for r in exam_load.get("runs", []) if r["target"] == "hello"}
    for run in exam_load.get("runs", []):
        if run["target"] != "hub":
            continue
        ceiling = hello.get(run["workers"])
        rows.append(
            [
                f"exam load {run['mix']} x{run['workers']}",
                run["backend"],
                f"{run['rps']:.0f} req/s, p99 {run['latency_ms']['p99']:.0f} ms, "
                f"{run['errors_total']} err",
                f"hello {ceiling['rps']:.0f} req/s ({run['ratio_to_ceiling']:.0%})"
                if ceiling and run.get("ratio_to_ceiling") is not None
                else "-",
                ">= 50%, p99 < 250, 0 err",
                ok(run["meets_target"]) if run["mix"] == "exams" else "-",
            ]
        )
    for run in benchmarks.get("questions", {}).get("runs", []):
        rows.append(
            [
                "question submission",
                run["backend"],
                f"{run['per_second']:.0f}/s, p95 {run['p95_ms']:.1f} ms",
                f"INSERT {run['ceiling']['per_second']:.0f}/s ({run['ratio_to_ceiling']:.0%})",
                "(reported)",
                "-",
            ]
        )
    for run in benchmarks.get("sla_sweep", {}).get("runs", []):
        worker = run["worker"]
        rows.append(
            [
                f"sla sweep {run['open_questions']} open",
                run["backend"],
                f"{run['first_pass_ms'] / 1000:.2f} s first, {run['steady_pass_ms'] / 1000:.2f}"
                f" s steady; worker {worker['sweep_seconds']} s",
                "-",
                f"pass < {SWEEP_INTERVAL_S:.0f} s (interval)",
                ok(run["meets_target"]),
            ]
        )
    for run in benchmarks.get("webinars", {}).get("runs", []):
        rows.append(
            [
                f"webinar burst {run['people']}/{run['capacity']}",
                run["backend"],
                f"{run['registrations_per_second']:.0f}/s, p95 {run['latency_ms_p95'] or 0:.0f} ms"
                f", {run['registered']} seated, {run.get('errors', 0)} err",
                "-",
                f"exactly {run['capacity']} seated, 0 err",
                ok(run["meets_target"]),
            ]
        )
    rush_section = benchmarks.get("rush", {})
    hello_rps = {h["connections"]: h["rps"] for h in rush_section.get("hello", [])}
    for run in rush_section.get("runs", []):
        errors = sum(  # the sign-ins before the run included
            sum(p["errors_by_status"].values()) + p["timeouts"] + p["broken"]
            for p in [
                *run["personas"].values(),
                *(s for p in run["sign_in"]["personas"].values() for s in p["steps"].values()),
            ]
        )
        target = rush.TARGETS.get(run["mix"])
        ceiling = hello_rps.get(run["connections"])
        rows.append(
            [
                f"rush {run['mix']} x{run['connections']}",
                run["backend"],
                f"{run['rps']:.0f} req/s, {errors} err, {len(run['stalls'])} stalls, "
                f"{len(run['verified']['missing'])} lost",
                f"hello {ceiling:.0f} req/s ({run['ratio_to_hello']:.0%})"
                if ceiling and run.get("ratio_to_hello") is not None
                else "-",
                (f">= {target:.0%}, " if target else "") + "0 err/stall/lost",
                ok(
                    not run["problems"]
                    and not run["verified"]["missing"]
                    and (target is None or (run["ratio_to_hello"] or 0) >= target)
                ),
            ]
        )
    for backend, figures in rush_section.get("kb_index", {}).items():
        rows.append(
            [
                "KB index page"
                + (
                    f" ({rush_section['runs'][0]['articles']} art.)" if rush_section["runs"] else ""
                ),
                backend,
                f"median {figures.get('worst_median_ms')} ms (worst of anon/teacher)",
                "-",
                f"< {rush.KB_INDEX_TARGET_MS:g} ms",
                ok(bool(figures.get("meets_target"))),
            ]
        )
    lines = ["Summary", *(_cells(widths, row) for row in rows)]
    mem = benchmarks.get("memory", {})
    if mem.get("web") or mem.get("scheduler_worker"):
        lines += ["", "Peak memory (VmHWM, RSS high-water mark):"]
        for entry in mem.get("web", []):
            lines.append(
                f"  web {entry['target']}/{entry['backend'] or '-'} x{entry['workers']}: "
                f"{entry['peak_rss_mb_workers']:.0f} MB over the workers (largest "
                f"{entry['peak_rss_mb_largest_worker']:.0f} MB), "
                f"{entry['peak_rss_mb_total']:.0f} MB with the supervisor"
            )
        for entry in mem.get("scheduler_worker", []):
            where = (
                f"beside hub serve x{entry['web_workers']}"
                if entry["phase"] == "exam load"
                else f"sweeping {entry['open_questions']} open questions"
            )
            lines.append(
                f"  hub worker/{entry['backend']} {where}: {entry['peak_rss_mb']:.0f} MB "
                f"({entry['seconds_alive']:.0f} s alive)"
            )
    for name, section in benchmarks.items():
        if not isinstance(section, dict):
            continue
        for backend, reason in section.get("skipped", {}).items():
            lines.append(f"SKIPPED {name}/{backend}: {reason}")
        for error in section.get("errors", []):
            lines.append(f"FAILED {error['what']}: {error['error'][:200]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        help=f"comma-separated subset of {','.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and short runs: checks the harness"
    )
    parser.add_argument("--articles", type=int, help="generated articles (0: none); 5000")
    parser.add_argument("--repeats", type=int, help="runs of each query; 5")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql"], action="append", help="default: both"
    )
    parser.add_argument(
        "--budget", type=float, help="seconds of timed searches per backend/corpus; 30"
    )
    parser.add_argument("--open-questions", type=int, help="open questions of the sweep; 50000")
    parser.add_argument(
        "--profile", action="store_true", help="also write cProfile reports to bench/results/"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--skip-load", action="store_true", help="skip the HTTP load test (same as --only ...)"
    )
    args = parser.parse_args(argv)
    sections = set(SECTIONS)
    if args.only:
        sections = {name.strip() for name in args.only.split(",") if name.strip()}
        unknown = sections - set(SECTIONS)
        if unknown:
            parser.error(f"--only: unknown {', '.join(sorted(unknown))} (known: {SECTIONS})")
    if args.skip_load:
        sections.discard("load")
    sizes = QUICK if args.quick else Sizes()
    for name, value in (
        ("articles", args.articles),
        ("repeats", args.repeats),
        ("budget", args.budget),
        ("open_questions", args.open_questions),
    ):
        if value is not None:
            setattr(sizes, name, value)
    backends = tuple(args.backend or ("sqlite", "postgresql"))

    started = time.perf_counter()
    when = datetime.now(UTC)
    results: dict[str, Any] = {"when": when.isoformat(timespec="seconds"), **environment()}
    results["run"] = {
        "sections": [name for name in SECTIONS if name in sections],
        "quick": args.quick,
        "backends": list(backends),
    }
    benchmarks: dict[str, Any] = {}
    results["benchmarks"] = benchmarks
    log(f"benchmarks: {', '.join(results['run']['sections'])} on {', '.join(backends)}")
    if "search" in sections:
        options = search.Options(
            articles=sizes.articles,
            repeats=sizes.repeats,
            seed=args.seed,
            backends=backends,
            budget_seconds=sizes.budget,
            profile=args.profile,
            log=log,
        )
        benchmarks["search"] = {"runs": [], "skipped": {}}
        search_result = guarded("search", benchmarks["search"], lambda: search.run(options))
        if search_result is not None:
            benchmarks["search"] = search_result
    if "load" in sections:
        load_options = load.Options(
            workers=sizes.load_workers,
            backends=backends,
            duration=sizes.load_duration,
            conditional_duration=sizes.load_conditional_duration,
            warmup=sizes.load_warmup,
            log=log,
        )
        holder: dict[str, Any] = {"runs": [], "skipped": {}}
        guarded("exam load", holder, lambda: load.run(results, load_options))
        if "exam_load" not in benchmarks:
            benchmarks["exam_load"] = {**holder, "meets_target": False}
    if sections & {"questions", "sweep", "webinars"}:
        run_database_benchmarks(results, sections, backends, sizes)
    if "rush" in sections:
        rush_options = rush.Options(
            backends=backends,
            connections=sizes.rush_connections,
            focus_connections=sizes.rush_focus_connections,
            duration=sizes.rush_duration,
            warmup=sizes.rush_warmup,
            articles=sizes.articles,
            log=log,
        )
        holder = {"runs": [], "hello": [], "skipped": {}}
        guarded("rush", holder, lambda: rush.run(results, rush_options))
        if "rush" not in benchmarks:
            benchmarks["rush"] = {**holder, "missed": ["did not run"], "meets_target": False}
        else:  # a crash part-way keeps the runs done so far, and is recorded with them
            benchmarks["rush"].setdefault("errors", []).extend(holder.get("errors", []))
            rush.judge(benchmarks["rush"])
    benchmarks["memory"] = memory_summary(benchmarks)

    postgres = {
        r["server_version"] for r in benchmarks.get("search", {}).get("runs", [])
        if r.get("backend") != "sqlite" and r.get("server_version")
    }  # fmt: skip
    if not postgres and "postgresql" in backends and not load.postgres_unreachable():
        postgres = {load.postgres_version() or ""} - {""}
    results["versions"]["postgresql"] = ", ".join(sorted(postgres)) or None
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["duration_seconds"] = round(time.perf_counter() - started, 1)
    missed = failures(benchmarks)
    results["missed_targets"] = missed

    RESULTS.mkdir(exist_ok=True)
    payload = json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n"
    # only a complete run replaces latest.json: --quick figures are not to be quoted, and a
    # subset (--only, --backend, --skip-load) would drop the other benchmarks' figures
    complete = sections == set(SECTIONS) and set(backends) == {"sqlite", "postgresql"}
    latest = RESULTS / (
        "latest-quick.json" if args.quick else "latest.json" if complete else "latest-partial.json"
    )
    latest.write_text(payload, encoding="utf-8")
    suffix = "-quick" if args.quick else "" if complete else "-partial"
    stamped = RESULTS / f"{when.strftime('%Y%m%dT%H%M%SZ')}{suffix}.json"
    stamped.write_text(payload, encoding="utf-8")

    if benchmarks.get("search", {}).get("runs"):
        try:
            sys.stdout.write(table(benchmarks["search"]) + "\n\n")
        except (KeyError, TypeError) as exc:  # bench/search.py's figures changed shape
            sys.stdout.write(f"(search table unavailable: {exc!r}; see latest.json)\n\n")
    if benchmarks.get("exam_load", {}).get("runs"):
        sys.stdout.write(load.table(benchmarks["exam_load"]) + "\n\n")
    if benchmarks.get("rush", {}).get("runs"):
        sys.stdout.write(rush.table(benchmarks["rush"]) + "\n\n")
        rush_only = {k: v for k, v in results.items() if k != "benchmarks"}
        rush_only["benchmarks"] = {"rush": benchmarks["rush"]}
        rush.write(rush_only, when, "-quick" if args.quick else "")
    sys.stdout.write(summary_table(benchmarks) + "\n")
    machine, versions = results["machine"], results["versions"]
    sys.stdout.write(
        f"\n{machine['cpu']}, {machine['cpus']} CPUs, load average "
        f"{machine['load_average_at_start'][0]} -> {machine['load_average_at_end'][0]}; "
        f"python {versions['python']}, sqlite {versions['sqlite']}, "
        f"postgresql {versions['postgresql']}; {results['duration_seconds']} s"
        f"{' (--quick: sizes too small to quote)' if args.quick else ''}\n"
        f"wrote {latest} and {stamped.name}\n"
    )
    if missed:
        sys.stdout.write("missed: " + "; ".join(missed) + "\n")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
