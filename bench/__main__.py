"""`make bench`: runs the benchmarks, prints a table and writes bench/results/latest.json
(and a timestamped copy, bench/results/<UTC time>.json, to compare runs).

    .venv/bin/python -m bench [--articles 5000] [--repeats 5] [--backend sqlite|postgresql]

PostgreSQL is the admin URL of the tests (HUB_TEST_POSTGRES_URL, or HUB_BENCH_POSTGRES_URL);
the benchmark creates its own database there and drops it. Unreachable: skipped, said so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import load, search

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
            ["git", "status", "--porcelain", "--", "hub", "kb"], capture_output=True, text=True
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=5_000, help="generated articles (0: none)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each query")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql"], action="append", help="default: both"
    )
    parser.add_argument(
        "--budget", type=float, default=30.0, help="seconds of timed searches per backend/corpus"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also write cProfile reports to bench/results/"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--skip-load", action="store_true", help="skip the HTTP load test of the exam pages"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    when = datetime.now(UTC)
    results: dict[str, Any] = {"when": when.isoformat(timespec="seconds"), **environment()}
    options = search.Options(
        articles=args.articles,
        repeats=args.repeats,
        seed=args.seed,
        backends=tuple(args.backend or ("sqlite", "postgresql")),
        budget_seconds=args.budget,
        profile=args.profile,
        log=log,
    )
    search_result = search.run(options)
    results["benchmarks"] = {"search": search_result}
    if not args.skip_load:
        load.run(results, load.Options(backends=options.backends, log=log))
    postgres = {r["server_version"] for r in search_result["runs"] if r["backend"] != "sqlite"}
    results["versions"]["postgresql"] = ", ".join(sorted(postgres)) or None
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["duration_seconds"] = round(time.perf_counter() - started, 1)

    RESULTS.mkdir(exist_ok=True)
    payload = json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n"
    (RESULTS / "latest.json").write_text(payload, encoding="utf-8")
    stamped = RESULTS / f"{when.strftime('%Y%m%dT%H%M%SZ')}.json"
    stamped.write_text(payload, encoding="utf-8")

    sys.stdout.write(table(search_result) + "\n")
    if "exam_load" in results["benchmarks"]:
        sys.stdout.write("\n" + load.table(results["benchmarks"]["exam_load"]) + "\n")
    machine, versions = results["machine"], results["versions"]
    sys.stdout.write(
        f"\n{machine['cpu']}, {machine['cpus']} CPUs, load average "
        f"{machine['load_average_at_start'][0]} -> {machine['load_average_at_end'][0]}; "
        f"python {versions['python']}, sqlite {versions['sqlite']}, "
        f"postgresql {versions['postgresql']}; {results['duration_seconds']} s\n"
        f"wrote {RESULTS / 'latest.json'} and {stamped.name}\n"
    )
    failed = [r for r in search_result["runs"] if not r["warm"]["meets_target"]]
    exam_load = results["benchmarks"].get("exam_load")
    if exam_load is not None and not exam_load["meets_target"]:
        failed.append(exam_load)
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
