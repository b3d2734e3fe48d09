"""`make bench`: runs every benchmark and writes bench/results/latest.json.

Benchmarks arrive with the issues that need them (search, exam pages, question bursts...);
until then this prints what is measured so far.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def main() -> int:
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "benchmarks": {},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print("no benchmark registered yet; wrote bench/results/latest.json")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
