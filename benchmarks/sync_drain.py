"""Drain a node's offline backlog through a local Mosquitto to the reference central ingest.

A busy hall offline for about a week: N events (default 100,000) in the node's SQLite log.
The agent side (core runtime + sync) and the ingest each run in their own process; the
figure is events per second from start of the sync until the node has stored the central
side's acknowledgement of the last event (durable at both ends: ``synchronous=FULL``).

In the same run, the floor: plain paho QoS 1 publishes of the same per-event JSON bytes, one
message per event, to a subscriber in another process.

Prints JSON lines. Not a test: nothing here asserts a speed.

    .venv/bin/python benchmarks/sync_drain.py [--n 100000] [--floor-n N] [--batch-events 500]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from agent import chain  # noqa: E402
from agent import commands as c  # noqa: E402
from agent.config import always_open, sample_config  # noqa: E402
from agent.datadir import DataDir  # noqa: E402
from agent.store import Store  # noqa: E402
from benchmarks.loopback_broker import start_broker  # noqa: E402


# ---- the backlog -------------------------------------------------------------------------
def make_backlog(root: Path, n: int) -> tuple[int, float]:
    """A data dir whose log holds ``n`` real-looking events over the last 7 days.

    A few hundred events come from real commands (issue, call, start, finish, rate) in a
    scratch store; they are repeated with fresh seqs and past business dates, written in one
    transaction (the setup, not what is measured).
    """
    hall = always_open(sample_config())
    hall = hall.model_copy(
        update={"services": [s.model_copy(update={"daily_cap": 9999}) for s in hall.services]}
    )
    config_file = root.parent / "bench-hall.yaml"
    config_file.write_text(yaml.safe_dump(hall.model_dump(mode="json"), allow_unicode=True))
    data = DataDir(root)
    _, node = data.init(config_file)
    scratch = Store(root.parent / "scratch.db", node.node_id, hall)
    scratch.conn.execute("PRAGMA synchronous=OFF")
    services = [s.code for s in hall.services]
    windows = {w.number: w.services for w in hall.windows}
    for i in range(120):
        scratch.execute(c.IssueTicket(services[i % len(services)]))
    for _ in range(40):
        for number in windows:
            try:
                scratch.execute(c.CallNext(number))
                scratch.execute(c.StartService(number))
                scratch.execute(c.FinishService(number))
                scratch.execute(c.RecordEvaluation(number, 5))
            except Exception:  # noqa: BLE001 - nobody waiting for that window: fine
                continue
    seeds = scratch.conn.execute(
        "SELECT type, business_date, at, wall_time, payload FROM events ORDER BY seq"
    ).fetchall()
    scratch.close()
    today = dt.date.today()
    conn = sqlite3.connect(root / "hall.db")
    Store(root / "hall.db", node.node_id, hall).close()  # create the schema
    conn.execute("BEGIN")
    rows = []
    total_bytes = 0
    prev = ""
    for seq in range(1, n + 1):
        type_, _, at, wall, payload = seeds[(seq - 1) % len(seeds)]
        day = (today - dt.timedelta(days=7 - (seq - 1) * 7 // n)).isoformat()
        data = chain.canonical_bytes(prev, node.node_id, seq, type_, day, at, wall, payload)
        prev = chain.link(chain.DEFAULT_ALGORITHM, data)
        rows.append((node.node_id, seq, type_, day, at, wall, payload, prev))
        total_bytes += len(payload)
        if len(rows) == 10_000:
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            rows.clear()
    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()
    return len(seeds), total_bytes / n


# ---- child: the agent side ------------------------------------------------------------------
def drain_child(data_dir: str, url: str, batch_events: int, window: int) -> None:
    from agent.node_runtime import Node
    from sync.service import SyncSettings, start_sync

    node = Node.open(data_dir)
    runtime = node.runtime().start()
    settings = SyncSettings(batch_max_events=batch_events, window_batches=window)
    started = time.monotonic()
    handle = start_sync(node, runtime, url, settings)
    assert handle is not None
    ok = handle.wait_synced(3600)
    elapsed = time.monotonic() - started
    status = handle.status()
    handle.stop()
    runtime.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ok": ok, "elapsed_s": elapsed, "peak_rss_mb": rss, "status": status}))


# ---- child: the floor subscriber ------------------------------------------------------------
def floor_subscriber(port: int, n: int, topic: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got = 0
    done_at = 0.0

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal got, done_at
        got += 1
        if got == n:
            done_at = time.monotonic()
            client.disconnect()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="floor-sub", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *a: print("ready", flush=True)
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_forever()
    print(json.dumps({"got": got, "done_at": done_at}), flush=True)


def run_floor(port: int, data_dir: Path, n: int) -> dict[str, float]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    conn = sqlite3.connect(data_dir / "hall.db")
    payloads = []
    for seq, type_, day, at, wall, payload in conn.execute(
        "SELECT seq, type, business_date, at, wall_time, payload FROM events ORDER BY seq LIMIT ?",
        (n,),
    ):
        payloads.append(
            (
                f'{{"seq": {seq}, "type": {json.dumps(type_)}, "business_date": "{day}", '
                f'"at": "{at}", "wall_time": "{wall}", "payload": {payload}}}'
            ).encode()
        )
    conn.close()
    topic = "bench/floor"
    sub = subprocess.Popen(
        [sys.executable, __file__, "--floor-subscriber", str(port), str(n), topic],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sub.stdout is not None
    assert sub.stdout.readline().strip() == "ready"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="floor-pub", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.monotonic()
    pending: collections.deque[mqtt.MQTTMessageInfo] = collections.deque()
    for payload in payloads:  # one message per event; at most 1000 not yet acknowledged
        pending.append(client.publish(topic, payload, qos=1))
        if len(pending) >= 1000:
            pending.popleft().wait_for_publish(60)
    while pending:
        pending.popleft().wait_for_publish(60)
    out = json.loads(sub.stdout.readline())
    sub.wait(60)
    client.loop_stop()
    client.disconnect()
    elapsed = out["done_at"] - started
    return {"n": out["got"], "elapsed_s": elapsed, "events_per_s": out["got"] / elapsed}


# ---- main -----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--floor-n", type=int, help="messages for the floor (default: n)")
    parser.add_argument("--batch-events", type=int, default=500)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sync-drain-"))
    broker, port = start_broker(tmp, ["max_queued_messages 0", "max_inflight_messages 0"])
    url = f"mqtt://127.0.0.1:{port}"
    ingest = None
    try:
        t0 = time.monotonic()
        seeds, avg_payload = make_backlog(tmp / "node", args.n)
        print(
            json.dumps(
                {
                    "op": "generate",
                    "n": args.n,
                    "seed_events": seeds,
                    "avg_payload_bytes": round(avg_payload, 1),
                    "elapsed_s": round(time.monotonic() - t0, 2),
                }
            ),
            flush=True,
        )
        central_db = tmp / "central.db"
        ingest = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent.cli",
                "central",
                "--broker",
                url,
                "--db",
                str(central_db),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert ingest.stdout is not None
        if not ingest.stdout.readline().startswith("central ingest ready"):
            raise SystemExit("the ingest did not start")
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--drain-child",
                str(tmp / "node"),
                url,
                str(args.batch_events),
                str(args.window),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        drain = json.loads(child.stdout.strip().splitlines()[-1])
        check = sqlite3.connect(central_db)
        count, low, high = check.execute(
            "SELECT COUNT(*), MIN(seq), MAX(seq) FROM events"
        ).fetchone()
        check.close()
        exactly_once = drain["ok"] and (count, low, high) == (args.n, 1, args.n)
        drain_line = {
            "op": "drain",
            "n": args.n,
            "events_per_s": round(args.n / drain["elapsed_s"]),
            "elapsed_s": round(drain["elapsed_s"], 2),
            "batch_events": args.batch_events,
            "window_batches": args.window,
            "agent_peak_rss_mb": round(drain["peak_rss_mb"], 1),
            "central_events": count,
            "exactly_once": exactly_once,
        }
        print(json.dumps(drain_line), flush=True)
        ingest.terminate()
        ingest.wait(30)
        ingest_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        ingest = None
        floor = run_floor(port, tmp / "node", args.floor_n or args.n)
        print(
            json.dumps(
                {
                    "op": "floor",
                    "n": floor["n"],
                    "events_per_s": round(floor["events_per_s"]),
                    "elapsed_s": round(floor["elapsed_s"], 2),
                }
            ),
            flush=True,
        )
        print(
            json.dumps(
                {
                    "op": "sync_drain",
                    "n": args.n,
                    "events_per_s": drain_line["events_per_s"],
                    "floor_events_per_s": round(floor["events_per_s"]),
                    "speedup_over_floor": round(
                        drain_line["events_per_s"] / floor["events_per_s"], 1
                    ),
                    "agent_peak_rss_mb": drain_line["agent_peak_rss_mb"],
                    "max_child_peak_rss_mb": round(ingest_rss, 1),
                    "exactly_once": exactly_once,
                    "durable": "node and central SQLite synchronous=FULL; broker in memory",
                }
            ),
            flush=True,
        )
    finally:
        if ingest is not None:
            ingest.kill()
            ingest.wait(10)
        broker.terminate()
        broker.wait(10)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--drain-child":
        drain_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--floor-subscriber":
        floor_subscriber(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        main()
