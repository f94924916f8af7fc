"""A log filter that lets a repeated record through a few times, then counts it quietly.

One terminal repeating one bad request must not rotate the hub's log history away: records
with the same logger, message template, exception type and source line pass
``burst`` times per ``window_s``; the rest are counted and summed up in the next one that
passes (``"… (37 like it suppressed)"``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class RepeatFilter(logging.Filter):
    def __init__(
        self,
        burst: int = 3,
        window_s: float = 60.0,
        max_keys: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._seen: dict[
            tuple[object, ...], list[float]
        ] = {}  # key -> [window start, passed, suppressed]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[0] if record.exc_info else None
        key = (record.name, record.msg, exc, record.pathname, record.lineno)
        now = self._clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is None or now - entry[0] >= self.window_s:
                suppressed = int(entry[2]) if entry else 0
                if len(self._seen) >= self.max_keys:
                    self._seen.clear()
                self._seen[key] = [now, 1, 0]
                if suppressed:
                    record.msg = f"{record.msg} ({suppressed} like it suppressed)"
                return True
            if entry[1] < self.burst:
                entry[1] += 1
                return True
            entry[2] += 1
            return False
