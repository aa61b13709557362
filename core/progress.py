"""Progress for long work: periodic log lines with counts and rates, and a run summary."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("intentmine")


def setup_logging(level: int = logging.INFO) -> None:
    """One format for every command: time, level, message."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")


class Progress:
    """Counts work done and logs ``what: done/total (rate/s)`` at most every ``every`` seconds."""

    def __init__(self, what: str, total: int | None = None, every: float = 5.0, unit: str = "rows"):
        self.what, self.total, self.every, self.unit = what, total, every, unit
        self.done = 0
        self.start = self._last = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            self._log(now)

    def close(self) -> float:
        """Log the final line and return the elapsed seconds."""
        now = time.perf_counter()
        self._log(now, final=True)
        return now - self.start

    def _log(self, now: float, final: bool = False) -> None:
        elapsed = max(now - self.start, 1e-9)
        total = f"/{self.total:,}" if self.total else ""
        verb = "done" if final else "..."
        log.info("%s %s %s%s %s (%.0f %s/s, %.1fs)", self.what, verb, f"{self.done:,}", total,
                 self.unit, self.done / elapsed, self.unit, elapsed)
