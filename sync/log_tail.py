"""The last lines of the node's log for ``upload_logs``: bounded, personal data masked, cut
into parts that each fit in one MQTT message.

The agent never logs a full ID number, but a log line may quote what a device or a person
typed (a scanned code, a config value); every line is masked here again before it leaves
the PC: an 18- or 15-digit ID number keeps its first 6 and last 4 characters (as the store
keeps it), a mainland mobile number its first 3 and last 4.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

from agent.privacy import mask_id_number

#: An ID number (18 characters, the last a digit or X; or the old 15 digits) standing alone.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def mask_line(line: str) -> str:
    line = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), line)
    return _MOBILE.sub(lambda m: m.group(0)[:3] + "****" + m.group(0)[-4:], line)


def tail_lines(log_file: Path, lines: int, max_bytes: int) -> list[str]:
    """The last ``lines`` lines of ``log_file`` and of its rotated predecessor
    (``agent.log.1``) before it, masked, at most ``max_bytes`` in UTF-8 (the newest kept)."""
    kept: deque[str] = deque(maxlen=lines)
    for path in (log_file.with_name(log_file.name + ".1"), log_file):
        try:
            with path.open(encoding="utf-8", errors="replace") as f:
                for line in f:
                    kept.append(line.rstrip("\n"))
        except FileNotFoundError:
            continue
    out: list[str] = []
    size = 0
    for line in reversed(kept):
        masked = mask_line(line)
        size += len(masked.encode("utf-8")) + 1
        if size > max_bytes:
            break
        out.append(masked)
    out.reverse()
    return out


def chunks(lines: list[str], max_chars: int) -> list[str]:
    """Consecutive lines joined into texts of at most ``max_chars`` characters each (a
    longer line is cut); at least one (empty) text."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = line[: max_chars - 1]
        if current and size + len(line) + 1 > max_chars:
            parts.append("\n".join(current) + "\n")
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current or not parts:
        parts.append("".join(f"{line}\n" for line in current))
    return parts
