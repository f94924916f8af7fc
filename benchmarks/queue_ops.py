"""Queue operations through the engine and the durable store, next to the SQLite floor.

Times N ticket issues and N call-next+finish cycles (each a committed command, WAL +
synchronous=FULL), and in the same run the floor: a bare INSERT+COMMIT of a similar row with
the same pragmas, timed alternately with the operation. For call+start+finish (three
commits) the floor is three such commits. Prints one JSON line per operation.

    .venv/bin/python benchmarks/queue_ops.py [--n 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent import commands as c
from agent.config import always_open, sample_config
from agent.store import Store, connect

# Window 1 serves both; two services keep every number within the 4-digit daily cap.
SERVICES = ("social-security", "civil-affairs")


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def interleaved(n: int, op: Callable[[int], object], floor: Callable[[int], object]):
    """Time ``op`` and the floor alternately, so both see the same disk and cache state."""
    samples: list[float] = []
    floor_samples: list[float] = []
    for i in range(n):
        for fn, out in ((floor, floor_samples), (op, samples)):
            start = time.perf_counter()
            fn(i)
            out.append((time.perf_counter() - start) * 1000)
    return samples, floor_samples


class Floor:
    """A bare INSERT+COMMIT of a ticket-sized row, same pragmas, its own file."""

    def __init__(self, path: Path) -> None:
        self.conn = connect(path)
        self.conn.execute(
            "CREATE TABLE t (id TEXT PRIMARY KEY, number TEXT, service TEXT, state TEXT, "
            "issued_at TEXT, payload TEXT)"
        )
        self.count = 0

    def __call__(self, i: int) -> None:
        self.count += 1
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
            (
                str(self.count),
                "A0001",
                "social-security",
                "waiting",
                "2026-06-01T09:00:00.000000+08:00",
                "x" * 600,
            ),
        )
        self.conn.execute("COMMIT")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    n = parser.parse_args().n
    hall = always_open(sample_config())
    services = [s.model_copy(update={"daily_cap": 9999}) for s in hall.services]
    hall = hall.model_copy(update={"services": services})
    with tempfile.TemporaryDirectory() as tmp:
        floor = Floor(Path(tmp) / "floor.db")
        # The store's own clock (the machine's), as in a hall: the hall is always open.
        store = Store(Path(tmp) / "hall.db", "bench", hall)
        issue, issue_floor = interleaved(
            n, lambda i: store.execute(c.IssueTicket(SERVICES[i % 2])), floor
        )

        def cycle(i: int) -> None:
            store.execute(c.CallNext(1))
            store.execute(c.StartService(1))
            store.execute(c.FinishService(1))

        def three_floors(i: int) -> None:
            floor(i), floor(i), floor(i)

        cycles, cycle_floor = interleaved(n, cycle, three_floors)
        store.close()
        floor.conn.close()
    results = (("issue", issue, issue_floor, 1), ("call_start_finish", cycles, cycle_floor, 3))
    for op, samples, floor_samples, commits in results:
        p50 = statistics.median(samples)
        floor_p50 = statistics.median(floor_samples)
        print(
            json.dumps(
                {
                    "op": op,
                    "n": n,
                    "commits_per_op": commits,
                    "p50_ms": round(p50, 3),
                    "p99_ms": round(percentile(samples, 99), 3),
                    "floor_p50_ms": round(floor_p50, 3),
                    "floor_p99_ms": round(percentile(floor_samples, 99), 3),
                    "ratio_p50": round(p50 / floor_p50, 2),
                }
            )
        )


if __name__ == "__main__":
    main()
