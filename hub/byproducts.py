"""By-products of reading: written in batches by one thread per process, never by the request.

A GET answers from a read transaction and writes nothing in it: on SQLite a deferred
transaction that reads and then writes fails at once with "database is locked" whenever another
connection committed in between, and on both databases a write per page view would make every
reader queue behind the one writer. What reading produces besides its answer (page views,
search logs and clicks) is kept in memory by a recorder and written by the `Flusher` thread every
`FLUSH_SECONDS`, in one short write transaction per recorder, and at shutdown. A crash (SIGKILL,
power loss) loses at most the last `FLUSH_SECONDS` of them; a database that is away keeps them
in memory until the next flush.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)

FLUSH_SECONDS = 10.0  # the most a crash can lose of page views, search logs and clicks


class Recorder(Protocol):
    name: str

    def flush(self) -> int:
        """Write what was recorded since the last flush; keep it if the write fails."""
        ...


class Flusher:
    """One background thread that flushes every recorder of the process."""

    def __init__(self, *recorders: Recorder, seconds: float = FLUSH_SECONDS) -> None:
        self.recorders = recorders
        self.seconds = seconds
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self._flushing = threading.Lock()  # a test's flush() and the thread's never overlap

    def flush(self) -> int:
        """Flush every recorder now (tests and shutdown); returns the number of items written."""
        written = 0
        with self._flushing:
            for recorder in self.recorders:
                try:
                    written += recorder.flush()
                except Exception:  # a bug in one recorder must not stop the others
                    log.exception("flushing %s failed", recorder.name)
        return written

    def start(self) -> None:
        self.stop_event.clear()
        self.thread = threading.Thread(target=self._run, name="hub-flusher", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.wait(self.seconds):
            self.flush()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(5)
            self.thread = None
        self.flush()
