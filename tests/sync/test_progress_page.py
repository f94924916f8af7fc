"""A citizen's phone follows the slip's link: central answers it from the events the hall
sent through Mosquitto, in a real headless Chromium at a phone's size, fresh and (the hall
gone offline) stale; a tampered or unknown link gets a clear 4xx page; the "turn is near"
events reach central's feed once each."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import commands as c
from agent import ticketlink
from agent.node_runtime import Node
from agent.runtime import CoreRuntime
from agent.views import ticket_link
from sync.central import CentralIngest, CentralStore
from sync.fleet.progress_page import ProgressServer
from sync.service import SyncService, start_sync
from tests.support import wait_until
from tests.sync.conftest import (
    FAST_SYNC,
    Broker,
    assert_exactly_once,
    free_port,
    make_node,
    spawn_cli,
    wait_line,
)

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

LINK_BASE = "https://zwfw.example.gov.cn/hall/t"
PHONE = (390, 844)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (packaging/dev.sh installs it)")
    return found


def browse(url: str, profile: Path, screenshot: Path | None = None) -> str:
    """The page as headless Chromium at a phone's size renders it (its DOM after scripts;
    with ``screenshot``, also a PNG of the viewport)."""
    args = [
        chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
        f"--window-size={PHONE[0]},{PHONE[1]}",
        "--hide-scrollbars",
    ]
    if screenshot is not None:
        done = subprocess.run(
            [*args, f"--screenshot={screenshot}", url], capture_output=True, timeout=120
        )
        assert done.returncode == 0 and screenshot.exists(), done.stderr[-2000:]
    done = subprocess.run([*args, "--dump-dom", url], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.decode("utf-8")


def local(server: ProgressServer, link: str) -> str:
    """The link as the city's reverse proxy hands it to central: same path and query."""
    parts = urlsplit(link)
    return f"http://127.0.0.1:{server.port}{parts.path}?{parts.query}"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def hall_node(root: Path, broker: Broker) -> Node:
    """A hub whose slips carry the signed link and which tells tickets 2 from the front."""
    make_node(root, broker.url)
    hall_file = root / "hall.yaml"
    hall = yaml.safe_load(hall_file.read_text())
    hall |= {"ticket_link_base": LINK_BASE, "near_turn_ahead": 2}
    hall_file.write_text(yaml.safe_dump(hall, allow_unicode=True))
    return Node.open(root)


@contextlib.contextmanager
def running_hub(tmp_path: Path, broker: Broker) -> Iterator[tuple[Node, CoreRuntime, SyncService]]:
    """The hub's core and central sync; stopped on the way out (its sync says offline)."""
    node = hall_node(tmp_path / "node", broker)
    runtime = node.runtime().start()
    handle = start_sync(node, runtime, settings=FAST_SYNC)
    assert handle is not None
    try:
        yield node, runtime, handle
    finally:
        handle.stop()
        runtime.stop()


def node_state(db: Path, node_id: str) -> str | None:
    store = CentralStore(db)
    try:
        return next((n["state"] for n in store.fleet_nodes() if n["node_id"] == node_id), None)
    finally:
        store.close()


def slip_link(node: Node, number: str) -> str:
    """The link the hub printed on a slip of today (agent.views.ticket_link)."""
    store = node.store()
    try:
        link = ticket_link(store, number)
    finally:
        store.close()
    assert link is not None and link.startswith(LINK_BASE)
    return link


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ProgressServer]:
    s = ProgressServer(partial(CentralStore, tmp_path / "central.db"), "127.0.0.1", 0)
    try:
        yield s
    finally:
        s.stop()


def test_a_phone_follows_its_slip_fresh_then_stale(
    broker: Broker, ingest: CentralIngest, server: ProgressServer, tmp_path: Path
) -> None:
    db = tmp_path / "central.db"
    with running_hub(tmp_path, broker) as (node, runtime, handle):
        for _ in range(5):
            runtime.execute(c.IssueTicket("social-security"))
        runtime.execute(c.CallNext(1))  # A001 to window 1; A002..A004 near their turn
        assert handle.wait_synced(30)
        assert wait_until(lambda: node_state(db, node.node.node_id) == "online", 15)
        links = {n: slip_link(node, n) for n in ("A001", "A004")}

        waiting = browse(local(server, links["A004"]), tmp_path / "p1", tmp_path / "fresh.png")
        assert "A004" in waiting and "等候中" in waiting
        assert "前面还有 <b>2</b> 人" in waiting
        assert "大厅网络暂时中断" not in waiting and "数据更新于" in waiting
        called = browse(local(server, links["A001"]), tmp_path / "p2")
        assert "正在叫号" in called and "请到 1 号窗口" in called

        status, body = get(local(server, links["A004"]).replace("/hall/t?", "/v1/progress?"))
        progress = json.loads(body)
        assert status == 200
        assert (progress["state"], progress["people_ahead"], progress["service"]) == (
            "waiting",
            2,
            "social-security",
        )
        assert progress["freshness"]["hall_online"] is True
        assert progress["freshness"]["stale"] is False
    # the hall went offline (its sync said so on the way out)
    assert wait_until(lambda: node_state(db, node.node.node_id) == "offline", 15)
    stale = browse(local(server, links["A004"]), tmp_path / "p3", tmp_path / "stale.png")
    assert "大厅网络暂时中断，以下信息截至" in stale and "前面还有 <b>2</b> 人" in stale
    assert_exactly_once(db, node)


def test_a_tampered_or_unknown_link_gets_a_clear_4xx_page(
    broker: Broker, ingest: CentralIngest, server: ProgressServer, tmp_path: Path
) -> None:
    db = tmp_path / "central.db"
    with running_hub(tmp_path, broker) as (node, runtime, handle):
        runtime.execute(c.IssueTicket("social-security"))
        assert handle.wait_synced(30)
    hall_id, node_id = node.hall.hall_id, node.node.node_id
    good = slip_link(node, "A001")
    day = ticketlink.parse(good).business_date
    status, _ = get(local(server, good))
    assert status == 200

    tampered = good.replace("t=A001", "t=A002")  # another number under A001's signature
    status, page = get(local(server, tampered))
    assert status == 403 and "该链接已被改动" in page
    assert "A002" not in page  # nothing about the ticket it names

    stranger = Ed25519PrivateKey.generate()
    unknown = ticketlink.make(LINK_BASE, stranger, hall_id, "node-nobody", day, "A001")
    status, page = get(local(server, unknown))
    assert status == 404 and "暂未收到该大厅的数据" in page
    forged = ticketlink.make(LINK_BASE, stranger, hall_id, node_id, day, "A001")
    assert get(local(server, forged))[0] == 403  # a known node, another key

    status, page = get(f"http://127.0.0.1:{server.port}/hall/t?v=1&t=A001")
    assert status == 400 and "不是有效的取号凭条链接" in page
    status, body = get(local(server, tampered).replace("/hall/t?", "/v1/progress?"))
    assert status == 403 and json.loads(body)["error"] == "bad_signature"
    assert db.exists()
    with urllib.request.urlopen(local(server, good), timeout=10) as reply:  # loads nothing else
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_near_turn_events_reach_the_feed_once_each(
    broker: Broker, ingest: CentralIngest, server: ProgressServer, tmp_path: Path
) -> None:
    db = tmp_path / "central.db"
    feed = f"http://127.0.0.1:{server.port}/v1/near-turn"
    with running_hub(tmp_path, broker) as (node, runtime, handle):
        for _ in range(5):
            runtime.execute(c.IssueTicket("social-security"))
        runtime.execute(c.CallNext(1))
        assert handle.wait_synced(30)
        status, body = get(feed)
        first = json.loads(body)
        assert status == 200
        assert [(e["number"], e["people_ahead"]) for e in first["events"]] == [
            ("A002", 0),
            ("A003", 1),
            ("A004", 2),
        ]
        assert {e["node_id"] for e in first["events"]} == {node.node.node_id}
        again = json.loads(get(f"{feed}?cursor={first['cursor']}")[1])
        assert again["events"] == []  # nothing new: nothing twice

        runtime.execute(c.CallNext(2))  # A005 comes within 2
        assert handle.wait_synced(30)
        later = json.loads(get(f"{feed}?cursor={again['cursor']}")[1])
        assert [e["number"] for e in later["events"]] == ["A005"]
    assert_exactly_once(db, node)
    assert get(f"{feed}?cursor=not-a-cursor")[0] == 400


def test_the_central_process_serves_the_pages_on_its_progress_port(
    broker: Broker, tmp_path: Path
) -> None:
    proc = spawn_cli(
        "central", "--broker", broker.url, "--db", str(tmp_path / "central.db"),
        "--progress-port", str(free_port()),
    )  # fmt: skip
    try:
        url = wait_line(proc, "progress pages: ").split()[-1]
        status, page = get(f"{url}hall/t?v=1&t=A001")
        assert status == 400 and "不是有效的取号凭条链接" in page
        assert get(f"{url}v1/near-turn")[0] == 200
    finally:
        proc.terminate()
        proc.wait(10)
