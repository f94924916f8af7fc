"""A city's nodes drain their backlogs into the central store at once.

``--nodes`` simulated nodes (MQTT 5 clients speaking the ``hall/v1`` contract: event batches
up, cumulative acks down, a window of batches in flight, a resend from the ack after 10 s
without progress) connect to a local Mosquitto from several processes; when every one of
them is connected, they all publish their backlog together into ``hall-agent central``
with 1, 2 and 4 ingest processes (a shared subscription), into SQLite and into PostgreSQL
(a server of the benchmark's own, started as the tests start it but with ``fsync`` on, as
in production; the SQLite store commits with ``synchronous=FULL``).

For each run: events/s from "go" until every node holds the ack of its last event, and
exactly-once checked in the store (one row per (node, seq), every node acked in full). The
floor, in the same run: the same batches written straight into the same kind of database
through the same store code (``store.ingest_many``, as many batches at most per call as an
ingest worker takes from its queue at once: ``sync.central.MAX_GROUP``), by as many
processes, without a broker.

Prints JSON lines. Not a test: nothing here asserts a speed.

    .venv/bin/python benchmarks/central_ingest.py [--nodes 1000] [--events 100]
        [--batch-events 50] [--window 4] [--procs 4] [--ingest 1,2,4] [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from benchmarks.loopback_broker import start_broker  # noqa: E402
from sync import contract as ct  # noqa: E402
from sync.central import MAX_GROUP, open_central_store  # noqa: E402
from tests.support import (  # noqa: E402
    PostgresUnavailable,
    chained_events,
    signed_batch,
    start_postgres,
)

RESEND_AFTER_S = 10.0


# ---- the backlogs ---------------------------------------------------------------------------
def node_name(run: int, i: int) -> tuple[str, str]:
    """Each run has its own node ids: the acks of the last run stay retained at the broker."""
    return f"hall-{run}-{i:05d}", f"hall-{run}-{i:05d}-node"


def batches_of(run: int, i: int, events: int, batch_events: int) -> list[tuple[int, bytes]]:
    """Node ``i``'s backlog as ``(last seq, payload)`` batches, as a node would send them:
    each event chained, each batch's head signed by the node's key."""
    hall, node = node_name(run, i)
    day = dt.date(2026, 11, 27).isoformat()
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(node.encode()).digest())
    log = chained_events(
        node,
        (
            ("TicketIssued", day, f"{day}T09:{seq % 60:02d}:00.000000+08:00",
             f"{day}T01:{seq % 60:02d}:00.000000+00:00", _ticket_payload(node, seq, day))
            for seq in range(1, events + 1)
        ),
    )  # fmt: skip
    sent_at = dt.datetime.now(dt.UTC).isoformat()
    return [
        (
            min(events, first + batch_events - 1),
            signed_batch(hall, node, key, log[first - 1 : first - 1 + batch_events], sent_at)
            .model_dump_json()
            .encode(),
        )
        for first in range(1, events + 1, batch_events)
    ]


def _ticket_payload(node: str, seq: int, day: str) -> str:
    ticket = {
        "id": f"{node}-{seq}",
        "number": f"A{seq % 1000:03d}",
        "service": "social-security",
        "channel": "kiosk",
        "priority": "none",
        "issued_at": f"{day}T09:00:00+08:00",
    }
    return json.dumps({"ticket": ticket}, separators=(",", ":"))


# ---- child: simulated nodes -----------------------------------------------------------------
class SimNode:
    def __init__(self, run: int, i: int, batches: list[tuple[int, bytes]], window: int) -> None:
        self.hall, self.node = node_name(run, i)
        self.batches = batches
        self.window = window
        self.acked = 0
        self.next = 0  # index of the next batch to send
        self.progress_at = 0.0
        self.subscribed = False
        self.client: Any = None

    @property
    def done(self) -> bool:
        return self.acked >= self.batches[-1][0]

    def pump(self, now: float) -> None:
        """Send while fewer than ``window`` batches are unacknowledged; rewind on a stall."""
        if self.done:
            return
        if now - self.progress_at > RESEND_AFTER_S:  # no ack progress: resend from the ack
            self.next = next(k for k, (last, _) in enumerate(self.batches) if last > self.acked)
            self.progress_at = now
        in_flight = sum(1 for last, _ in self.batches[: self.next] if last > self.acked)
        while self.next < len(self.batches) and in_flight < self.window:
            topic = ct.events_topic(self.hall, self.node)
            self.client.publish(topic, self.batches[self.next][1], qos=1)
            self.next += 1
            in_flight += 1


def simulate(
    port: int, run: int, first: int, count: int, events: int, batch_events: int, window: int
) -> None:
    """``count`` nodes in one thread: paho clients driven by one selector (no FD_SETSIZE
    limit). Prints ``ready N`` once every node is subscribed to its ack, waits for ``go`` on
    stdin, prints one JSON line when every node holds its last ack."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    nodes = [
        SimNode(run, i, batches_of(run, i, events, batch_events), window)
        for i in range(first, first + count)
    ]
    sel = selectors.DefaultSelector()

    def on_message(client: mqtt.Client, node: SimNode, msg: mqtt.MQTTMessage) -> None:
        acked = json.loads(msg.payload)["acked_seq"]
        if acked > node.acked:
            node.acked = acked
            node.progress_at = time.monotonic()

    def on_subscribe(client: mqtt.Client, node: SimNode, *args: Any) -> None:
        node.subscribed = True

    for node in nodes:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=node.node, protocol=mqtt.MQTTv5, userdata=node
        )
        client.max_inflight_messages_set(window + 1)
        client.on_message = on_message
        client.on_subscribe = on_subscribe
        client.connect("127.0.0.1", port, keepalive=120)
        client.subscribe(ct.ack_topic(node.hall, node.node), qos=1)
        node.client = client
        sel.register(client.socket(), selectors.EVENT_READ, node)

    def spin(timeout: float) -> None:
        for key, _ in sel.select(timeout):
            key.data.client.loop_read()
        for node in nodes:
            if node.client.want_write():
                node.client.loop_write()

    deadline = time.monotonic() + 120
    while not all(n.subscribed for n in nodes) and time.monotonic() < deadline:
        spin(0.05)
        for node in nodes:
            node.client.loop_misc()
    print(f"ready {sum(n.subscribed for n in nodes)}", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    started = time.monotonic()
    for node in nodes:
        node.progress_at = started
    misc_due = 0.0
    while not all(n.done for n in nodes):
        now = time.monotonic()
        for node in nodes:
            node.pump(now)
        spin(0.01)
        if now >= misc_due:
            misc_due = now + 1.0
            for node in nodes:
                node.client.loop_misc()
    print(json.dumps({"done_at": time.time(), "nodes": len(nodes)}), flush=True)
    for node in nodes:
        node.client.disconnect()


# ---- the floor: the same batches straight into the store ------------------------------------
def _floor_worker(
    db: str, run: int, indexes: list[int], events: int, batch_events: int, go: Any, out: Any
) -> None:
    """Parse every batch first (not measured), then write them as the ingest would."""
    batches = [
        ct.EventBatch.model_validate_json(payload)
        for i in indexes
        for _, payload in batches_of(run, i, events, batch_events)
    ]
    store = open_central_store(db)
    now = dt.datetime.now(dt.UTC)
    go.wait()
    try:
        for first in range(0, len(batches), MAX_GROUP):
            store.ingest_many(batches[first : first + MAX_GROUP], now)
    finally:
        store.close()
    out.put(time.time())


def run_floor(db: str, run: int, nodes: int, events: int, batch_events: int, procs: int) -> float:
    """Seconds for ``procs`` processes to write every node's batches straight into ``db``."""
    open_central_store(db).close()  # the schema, before the writers race
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Barrier(procs + 1), ctx.Queue()
    workers = [
        ctx.Process(
            target=_floor_worker,
            args=(db, run, list(range(k, nodes, procs)), events, batch_events, go, out),
        )
        for k in range(procs)
    ]
    for w in workers:
        w.start()
    go.wait()
    started = time.time()
    finished = [out.get(timeout=3600) for _ in workers]
    for w in workers:
        w.join()
    return max(finished) - started


# ---- one run --------------------------------------------------------------------------------
def check_store(db: str, nodes: int, events: int) -> tuple[bool, int]:
    store = open_central_store(db)
    try:
        report = store.report()
    finally:
        store.close()
    rows = sum(n["events"] for n in report["nodes"])
    ok = len(report["nodes"]) == nodes and all(
        n["events"] == events and n["max_seq"] == events and n["acked_seq"] == events
        for n in report["nodes"]
    )
    return ok, rows


def run_ingest(
    args: argparse.Namespace, port: int, db: str, ingest: int, run: int
) -> dict[str, Any]:
    url = f"mqtt://127.0.0.1:{port}"
    open_central_store(db).close()
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent.cli",
                "central",
                "--broker",
                url,
                "--db",
                db,
                "--client-prefix",
                f"bench-{ingest}-{k}",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(ingest)
    ]
    sims: list[subprocess.Popen[str]] = []
    try:
        for w in workers:
            assert w.stdout is not None
            line = w.stdout.readline()
            if not line.startswith("central ingest ready"):
                raise SystemExit(f"ingest did not start: {line!r}")
        per = -(-args.nodes // args.procs)
        for k in range(args.procs):
            first, count = k * per, min(per, args.nodes - k * per)
            if count <= 0:
                break
            sims.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--child-simulate",
                        str(port),
                        str(run),
                        str(first),
                        str(count),
                        str(args.events),
                        str(args.batch_events),
                        str(args.window),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        connected = 0
        for s in sims:
            assert s.stdout is not None
            connected += int(s.stdout.readline().split()[1])
        if connected != args.nodes:
            raise SystemExit(f"only {connected} of {args.nodes} nodes connected")
        started = time.time()
        for s in sims:
            assert s.stdin is not None
            s.stdin.write("go\n")
            s.stdin.flush()
        done = [json.loads(s.stdout.readline())["done_at"] for s in sims if s.stdout]
        elapsed = max(done) - started
        for s in sims:
            s.wait(30)
    finally:
        for s in sims:
            if s.poll() is None:
                s.kill()
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(60)
    ok, rows = check_store(db, args.nodes, args.events)
    return {"elapsed_s": round(elapsed, 3), "rows": rows, "exactly_once": ok,
            "nodes_connected": connected}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100, help="backlog per node")
    parser.add_argument("--batch-events", type=int, default=50)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--procs", type=int, default=4, help="processes simulating nodes")
    parser.add_argument("--ingest", default="1,2,4", help="ingest process counts to run")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--child-simulate", nargs=7, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_simulate:
        simulate(*args.child_simulate)
        return
    tmp = Path(tempfile.mkdtemp(prefix="central-ingest-"))
    broker, port = start_broker(tmp, ["max_queued_messages 0", "max_inflight_messages 0"])
    pg = None
    total = args.nodes * args.events
    run = 0
    try:
        for kind in args.stores.split(","):
            if kind == "postgresql":
                try:
                    pg = start_postgres(durable=True)  # commits flushed, as in production
                except PostgresUnavailable as exc:
                    print(json.dumps({"op": "central_ingest", "store": kind, "skipped": str(exc)}))
                    continue
            for n in [int(x) for x in args.ingest.split(",")]:
                run += 1
                if kind == "sqlite":
                    db, floor_db = str(tmp / f"ingest_{n}.db"), str(tmp / f"floor_{n}.db")
                else:
                    assert pg is not None
                    db = pg.create_database(f"ingest_{n}")
                    floor_db = pg.create_database(f"floor_{n}")
                result = run_ingest(args, port, db, n, run)
                floor_s = run_floor(floor_db, run, args.nodes, args.events, args.batch_events, n)
                eps = total / result["elapsed_s"]
                floor_eps = total / floor_s
                line = {
                    "op": "central_ingest",
                    "store": kind,
                    "ingest_processes": n,
                    "nodes": args.nodes,
                    "events": total,
                    "batch_events": args.batch_events,
                    "floor_batches_per_call": MAX_GROUP,
                    **result,
                    "events_per_s": round(eps),
                    "floor_events_per_s": round(floor_eps),
                    "floor_over_ingest": round(floor_eps / eps, 2),
                }
                print(json.dumps(line), flush=True)
    finally:
        broker.terminate()
        broker.wait(10)
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
