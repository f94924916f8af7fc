"""A terminal's command round trip over the hall LAN, next to its two floors.

Three figures from one run, all on loopback through one Mosquitto started with the shipped
hall broker's tuning (``packaging/mosquitto/hall-broker.conf``: queue and size limits,
``set_tcp_nodelay``):

- ``lan``: ``LanClient.execute(IssueTicket)`` from a terminal process to a hub process
  (core runtime + ``LanServer``, the sample hall, WAL + ``synchronous=FULL``), N issues;
- ``raw_mqtt``: a plain MQTT 5 request/response (response topic + correlation data, QoS 1
  both ways, the same paho client settings) to a trivial echo responder in another process;
- ``local``: the same command at the hub, through the core runtime in one process
  (``CoreRuntime.submit_report``, what the LAN server runs per request).

The last line is the ratio ``lan_p50 / (raw_p50 + local_p50)``: what the LAN plumbing adds
beyond one broker round trip and one commit (1.0 would be nothing). Not a test: nothing here
asserts a speed.

    .venv/bin/python benchmarks/lan_roundtrip.py [--n 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from agent import commands as c  # noqa: E402
from agent.config import Terminal, always_open, sample_config  # noqa: E402
from agent.datadir import DataDir  # noqa: E402
from agent.node_runtime import Node  # noqa: E402
from benchmarks.loopback_broker import start_broker  # noqa: E402

HALL_BROKER_CONF = REPO / "packaging" / "mosquitto" / "hall-broker.conf"
#: The shipped settings that shape a round trip (the rest is listeners, files and logging).
TUNING = {
    "max_queued_messages",
    "max_queued_bytes",
    "max_inflight_messages",
    "message_size_limit",
    "max_packet_size",
    "set_tcp_nodelay",
}
SERVICE = "social-security"
TERMINAL = "bench-kiosk"
WARM_UP = 10
ECHO_TOPIC = "bench/echo/request"


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def shipped_tuning() -> list[str]:
    lines = []
    for line in HALL_BROKER_CONF.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words and words[0] in TUNING:
            lines.append(" ".join(words))
    return lines


def make_node(root: Path) -> Node:
    """The sample hall open around the clock, caps high enough for the run."""
    hall = always_open(sample_config())
    hall = hall.model_copy(
        update={
            "services": [s.model_copy(update={"daily_cap": 9999}) for s in hall.services],
            "terminals": [Terminal(id=TERMINAL, role="kiosk")],
        }
    )
    config_file = root.parent / f"{root.name}-hall.yaml"
    config_file.write_text(yaml.safe_dump(hall.model_dump(mode="json"), allow_unicode=True))
    DataDir(root).init(config_file)
    return Node.open(root)


def child(args: list[str], ready_word: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != ready_word:
        proc.kill()
        raise SystemExit(f"child {args[0]} did not start: {line!r}")
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is None
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


# ---- children ------------------------------------------------------------------------------
def serve_hub(data_dir: str, url: str) -> None:
    from sync.lan import LanServer, LanSettings

    node = Node.open(data_dir)
    runtime = node.runtime(tick_seconds=3600).start()
    # The benchmark's kiosk may take its N tickets at once (a real one: 20, then 20 a minute).
    settings = LanSettings(issue_burst=100_000, issue_per_minute=100_000)
    server = LanServer(node, runtime, broker_url=url, settings=settings).start()
    if not server.wait_ready(10):
        raise SystemExit("the hub never came online")
    print("ready", flush=True)
    threading.Event().wait()


def subscribed_client(url: str, client_id: str, topic: str, on_message: Any) -> Any:
    """A paho client with the agent's settings (``sync.mqtt.new_client``), subscribed to
    ``topic`` at QoS 1, its network loop running."""
    from sync.mqtt import new_client, parse_broker_url

    address = parse_broker_url(url)
    client = new_client(client_id, address)
    subscribed = threading.Event()
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect(address.host, address.port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    if not subscribed.wait(10):
        raise SystemExit(f"{client_id} never subscribed")
    return client


def serve_echo(url: str) -> None:
    """A trivial MQTT 5 responder: the request's payload back to its response topic."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    def on_message(client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = msg.properties.CorrelationData
        client.publish(msg.properties.ResponseTopic, msg.payload, qos=1, properties=props)

    subscribed_client(url, "bench-echo", ECHO_TOPIC, on_message)
    print("ready", flush=True)
    threading.Event().wait()


# ---- what is timed -------------------------------------------------------------------------
def time_lan(hall_id: str, url: str, n: int) -> list[float]:
    from sync.lan import LanClient

    with LanClient(hall_id, TERMINAL, url, role="kiosk") as lan:
        if not lan.wait_hub(10):
            raise SystemExit("the terminal never saw the hub")
        return timed(n, lambda: lan.execute(c.IssueTicket(SERVICE)))


def time_raw(url: str, n: int) -> list[float]:
    """The same request/response shape as a terminal's, to the echo responder."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    reply_topic = "bench/echo/reply"
    replies: dict[bytes, threading.Event] = {}
    client = subscribed_client(
        url,
        "bench-requester",
        reply_topic,
        lambda cl, ud, msg: replies[msg.properties.CorrelationData].set(),
    )
    payload = b'{"type": "IssueTicket", "args": {"service": "social-security"}}'

    def request() -> None:
        correlation = uuid.uuid4().hex.encode()
        done = replies[correlation] = threading.Event()
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = reply_topic
        props.CorrelationData = correlation
        client.publish(ECHO_TOPIC, payload, qos=1, properties=props)
        if not done.wait(10):
            raise SystemExit("no echo within 10 s")
        del replies[correlation]

    try:
        return timed(n, request)
    finally:
        client.loop_stop()
        client.disconnect()


def time_local(root: Path, n: int) -> list[float]:
    node = make_node(root)
    with node.runtime(tick_seconds=3600) as runtime:
        return timed(
            n,
            lambda: runtime.submit_report(
                c.IssueTicket(SERVICE), request_id=uuid.uuid4().hex
            ).result(10),
        )


def timed(n: int, once: Callable[[], object]) -> list[float]:
    """Milliseconds of ``n`` calls, after a few untimed ones that warm caches and sockets."""
    for _ in range(WARM_UP):
        once()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        once()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(op: str, samples: list[float], **extra: object) -> dict[str, object]:
    return {
        "op": op,
        "n": len(samples),
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(percentile(samples, 99), 3),
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500, help="issues through the LAN")
    parser.add_argument("--serve-hub", nargs=2, metavar=("DATA_DIR", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-echo", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_hub:
        serve_hub(*args.serve_hub)
        return 0
    if args.serve_echo:
        serve_echo(args.serve_echo)
        return 0
    with tempfile.TemporaryDirectory(prefix="lan-bench-") as tmp:
        work = Path(tmp)
        broker, port = start_broker(work, shipped_tuning())
        url = f"mqtt://127.0.0.1:{port}"
        hub_node = make_node(work / "hub")
        try:
            hub = child(["--serve-hub", str(hub_node.data.root), url], "ready")
            try:
                lan = time_lan(hub_node.hall.hall_id, url, args.n)
            finally:
                stop(hub)
            echo = child(["--serve-echo", url], "ready")
            try:
                raw = time_raw(url, args.n)
            finally:
                stop(echo)
            local = time_local(work / "local", args.n)
        finally:
            broker.terminate()
            broker.wait(10)
    lan_line = summary("lan", lan, what="LanClient.execute(IssueTicket), terminal to hub")
    raw_line = summary("raw_mqtt", raw, what="MQTT 5 request/response to an echo responder")
    local_line = summary("local", local, what="the same command at the hub, core runtime")
    for line in (lan_line, raw_line, local_line):
        print(json.dumps(line), flush=True)
    floor = float(raw_line["p50_ms"]) + float(local_line["p50_ms"])  # type: ignore[arg-type]
    ratio = float(lan_line["p50_ms"]) / floor  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "op": "ratio",
                "lan_p50_ms": lan_line["p50_ms"],
                "raw_p50_ms": raw_line["p50_ms"],
                "local_p50_ms": local_line["p50_ms"],
                "ratio": round(ratio, 2),
                "target": "lan p50 <= 5 ms and ratio <= 2",
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
