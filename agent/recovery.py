"""Rebuilding a node's store from its own events as central holds them (the log is the
source of truth), and resuming numbering safely when the tail never reached central.

The transport (MQTT request/response to central) lives in sync/recovery.py; this module
only prepares the data dir, restores the events through the store and decides the offset.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agent import chain as ch
from agent import commands as c
from agent import witness as wt
from agent.datadir import DataDir
from agent.errors import StoreError
from agent.store import Store

log = logging.getLogger(__name__)

#: Numbers of each service resume at least this far past the last one central knows.
MIN_RESUME_OFFSET = 100


@dataclass
class Rebuilt:
    restored_seq: int
    central_acked: int
    tail_complete: bool
    offsets: dict[str, int] = field(default_factory=dict)
    set_aside: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": True,
            "restored_seq": self.restored_seq,
            "central_acked": self.central_acked,
            "tail_complete": self.tail_complete,
            "offsets": self.offsets,
            "set_aside": self.set_aside,
        }


def _holds_events(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT 1 FROM events LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return True  # unreadable: may hold events; the operator moves it away
    return row is not None


def prepare(data: DataDir, now: dt.datetime) -> tuple[wt.Seen | None, list[str]]:
    """Make way for a rebuild: a store that still holds events is refused (move it away
    first); an empty or missing one and the witness are renamed aside, never deleted.
    Returns what the witness saw (the evidence of the lost tail) and the names set aside."""
    if _holds_events(data.database):
        raise StoreError(
            f"{data.database} still holds events (or cannot be read): move it away (keep it "
            "for analysis), then run 'hall-agent recover' again"
        )
    witness_path = data.database.with_suffix(".witness")
    try:
        seen = wt.read(witness_path)
    except wt.WitnessUnreadable as exc:
        log.warning("%s: the rebuilt store resumes numbering at the safe offset", exc)
        seen = None
    stamp = now.strftime("%Y%m%dT%H%M%S")
    aside = []
    for path in (
        data.database,
        Path(f"{data.database}-wal"),
        Path(f"{data.database}-shm"),
        witness_path,
    ):
        if path.exists():
            target = path.with_name(f"{path.name}.before-recovery-{stamp}")
            path.rename(target)
            aside.append(target.name)
    return seen, aside


def rebuild(
    store: Store,
    rows: Iterable[ch.ChainRow],
    central_acked: int,
    seen: wt.Seen | None,
    meta: dict[str, str],
) -> Rebuilt:
    """Restore the rows into the (empty) store. Unless the witness proves the log ended
    exactly where central's copy ends, today's numbers resume at a safe offset: for each
    service the larger of :data:`MIN_RESUME_OFFSET` and its busiest day in the log — a
    ``NumberingResumed`` event, logged as an alarm."""
    restored = store.restore(rows, meta)
    complete = (
        seen is not None
        and seen.node_id == store.node_id
        and seen.seq == restored
        and seen.chain == store.head
    )
    result = Rebuilt(restored, central_acked, complete)
    if complete:
        return result
    busiest = store.busiest_day()
    result.offsets = {
        s.code: max(MIN_RESUME_OFFSET, busiest.get(s.code, 0)) for s in store.config.services
    }
    lost = f"after seq {restored}" if seen is None else f"{restored + 1}..{seen.seq} at least"
    reason = (
        f"store rebuilt from central up to seq {restored}; events {lost} may be lost: "
        "numbers resume past a safe offset"
    )
    log.error("%s: %s", reason, result.offsets)
    store.execute(c.ResumeNumbering(result.offsets, reason))
    return result
