"""Structured logs: JSON lines to a rotating file in the data dir, readable lines to stderr.

Tracebacks go to the file only; stderr gets one line per record (a user at a terminal never
sees a traceback). When the file cannot be written (disk full, read-only, no data dir) its
records go to stderr as the same JSON lines instead (under systemd: the journal), so the
log survives the disk it usually lives on.

No personal data is ever passed to a logger: the ID-card driver hands out only masked
numbers and hashes, and tests grep the log files for full ID numbers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import sys
from pathlib import Path

#: ``extra={REPORTED: True}`` on a record its caller already told the user in its own words:
#: it goes to the log file, not to stderr a second time.
REPORTED = "reported"
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class OneLineFormatter(logging.Formatter):
    """``LEVEL logger: message``, first line only, never a traceback (that is in the file)."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        return (self.formatMessage(record).splitlines() or [""])[0]


class FallbackFileHandler(logging.handlers.RotatingFileHandler):
    """The rotating log file; a warning or error it cannot write goes to stderr as a JSON
    line, and the switch (and the way back) is said once."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8", delay=True)
        self.failing = False
        self._error: OSError | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self._error = None
        try:
            if self.shouldRollover(record):
                self.doRollover()
            logging.FileHandler.emit(self, record)  # a failed write comes to handleError
        except OSError as exc:
            self._error = exc
        if self._error is not None:
            self._to_stderr(record, self._error)
        elif self.failing:
            self.failing = False
            sys.stderr.write(f"WARNING agent.logs: writing {self.baseFilename} again\n")

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            self._error = error
        else:
            super().handleError(record)

    def _to_stderr(self, record: logging.LogRecord, exc: OSError) -> None:
        """Info is dropped: a full disk must not turn every routine line into journal noise."""
        if self.stream is not None:  # drop a half-written buffer; reopened on the next record
            with contextlib.suppress(OSError):
                self.stream.close()
            self.stream = None
        if record.levelno < logging.WARNING:
            return
        if not self.failing:
            self.failing = True
            sys.stderr.write(
                f"ERROR agent.logs: cannot write {self.baseFilename} ({exc.strerror});"
                " logging warnings and errors to stderr until it works again\n"
            )
        sys.stderr.write(self.format(record) + "\n")


def setup_logging(log_dir: Path | None, level: str = "INFO", stderr: bool = True) -> None:
    """Log to ``log_dir/agent.log`` (if it can be made) and to stderr (warnings and up)."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            sys.stderr.write(f"WARNING agent.logs: no log file in {log_dir}: {exc.strerror}\n")
        else:
            file_handler = FallbackFileHandler(log_dir / "agent.log")
            file_handler.setFormatter(JsonFormatter())
            root.addHandler(file_handler)
    if stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.WARNING)
        console.setFormatter(OneLineFormatter())
        console.addFilter(lambda record: not getattr(record, REPORTED, False))
        root.addHandler(console)
