"""Remote commands end to end: ``hall-agent central command send`` signs one per node, the
hub checks and runs it, its reply reaches central through the ingest and ``central command
status`` shows it; expired, replayed (also after a restart) and forged commands are refused
and never run."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.node import DeviceSpec
from agent.node_runtime import Node
from sync import contract as ct
from sync.central import CentralIngest, CentralStore, open_central_store
from sync.fleet.commands import CommandLedger, Target, sign_command
from sync.fleet.push import Message, publish
from sync.log_tail import chunks, mask_line, tail_lines
from sync.mqtt import parse_broker_url
from sync.node import NodeServices, start_node
from sync.remote import make_reply
from sync.reply_outbox import PENDING_REPLIES_DIR
from sync.service import SyncSettings
from sync.signing import CENTRAL_PUBLIC_KEY_FILE, generate_key, private_pem, public_pem
from tests.support import wait_until
from tests.sync.conftest import FAST_SYNC, Broker, make_node

KEY = generate_key()
PRINTER = DeviceSpec(
    id="kiosk-printer", kind="printer", profile="escpos-80mm", port="sim", simulated=True
)
ID_NUMBER = "11010519900101123X"
MOBILE = "13812345678"


# ---- the log, bounded and masked (no broker) -----------------------------------------------
def test_log_lines_are_masked_bounded_and_cut_into_parts(tmp_path: Path) -> None:
    """GIVEN a rotated log and a current one, with an ID number and a mobile number in them
    THEN the tail keeps the newest lines of both files, masks both numbers, stays under
    its byte bound, and its parts rejoin to the same text, each within the bound."""
    log = tmp_path / "agent.log"
    (tmp_path / "agent.log.1").write_text("".join(f"old {i}\n" for i in range(50)))
    log.write_text(
        "".join(f"new {i} card {ID_NUMBER} tel {MOBILE}\n" for i in range(30)) + "last\n"
    )
    lines = tail_lines(log, 40, 10_000)
    assert len(lines) == 40
    assert lines[0] == "old 41" and lines[-1] == "last"
    assert all(ID_NUMBER not in line and MOBILE not in line for line in lines)
    assert lines[-2] == "new 29 card 110105********123X tel 138****5678"
    assert mask_line("order 20261129000000000001 at 1764400000000") == (
        "order 20261129000000000001 at 1764400000000"  # not an ID number: 20 and 13 digits
    )
    small = tail_lines(log, 40, 200)
    assert 0 < len(small) < 40 and sum(len(x) + 1 for x in small) <= 200
    assert small[-1] == "last"
    parts = chunks(lines, 120)
    assert len(parts) > 3 and all(len(p) <= 120 for p in parts)
    assert "".join(parts) == "".join(f"{line}\n" for line in lines)


# ---- over Mosquitto ------------------------------------------------------------------------
@dataclass
class Central:
    """The central side as IT runs it: the ingest in this process, the CLI in-process."""

    broker: Broker
    db: Path
    key: Path
    capsys: pytest.CaptureFixture[str]
    ingest: CentralIngest

    def send(self, node: Node, kind: str, *args: str) -> int:
        """``central command send``; returns the command's version on ``node``."""
        self.capsys.readouterr()
        code = main(
            [
                "central", "command", "send", kind, "--broker", self.broker.url, "--key",
                str(self.key), "--db", str(self.db), "--hall", node.hall.hall_id, "--node",
                node.node.node_id, *args,
            ]
        )  # fmt: skip
        out = self.capsys.readouterr().out
        assert code == 0, out
        return int(out.split(" as ", 1)[1].split(",")[0].rsplit("/", 1)[1])

    def status(self, node: Node, version: int) -> dict[str, Any]:
        self.capsys.readouterr()
        args = ["central", "command", "status", "--db", str(self.db), "--json"]
        assert main([*args, "--node", node.node.node_id, "--version", str(version)]) == 0
        (command,) = json.loads(self.capsys.readouterr().out)["commands"]
        result: dict[str, Any] = command
        return result

    def wait_state(self, node: Node, version: int, states: tuple[str, ...]) -> dict[str, Any]:
        assert wait_until(lambda: self.status(node, version)["state"] in states, 20), self.status(
            node, version
        )
        return self.status(node, version)

    def replies(self, node: Node, version: int) -> list[tuple[str, int]]:
        store = CentralStore(self.db)
        try:
            CommandLedger(store)
            rows = store.conn.execute(
                "SELECT status, part FROM command_replies WHERE node_id = ? AND version = ? "
                "ORDER BY at, part",
                (node.node.node_id, version),
            ).fetchall()
        finally:
            store.close()
        return [(status, part) for status, part in rows]

    def publish_signed(self, node: Node, message: Message) -> None:
        assert publish(parse_broker_url(self.broker.url), "test-central", [message]) == []

    def record_and_sign(
        self, node: Node, issued_at: dt.datetime, ttl: dt.timedelta, key: Any = KEY
    ) -> tuple[int, Message]:
        """A probe command recorded as sent, signed by ``key``, not published yet."""
        target = Target(node.hall.hall_id, node.node.node_id)
        data = {"name": "probe", "device": PRINTER.id}
        store = CentralStore(self.db)
        try:
            ledger = CommandLedger(store)
            version = ledger.next_version(target.node_id, dt.datetime.now(dt.UTC))
            ledger.record_sent(target, version, data, issued_at, issued_at + ttl)
        finally:
            store.close()
        return version, sign_command(key, target, version, data, issued_at, ttl)

    def refusal(self, node: Node, code: str) -> bool:
        store = CentralStore(self.db)
        try:
            return any(
                r["code"] == code and r["node_id"] == node.node.node_id
                for r in store.results(refused=True)
            )
        finally:
            store.close()


@pytest.fixture
def central(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[Central]:
    key = tmp_path / "central_key.pem"
    key.write_bytes(private_pem(KEY))
    db = tmp_path / "central.db"
    ingest = CentralIngest(parse_broker_url(broker.url), db, workers=1)
    ingest.start()
    assert ingest.wait_ready(10)
    try:
        yield Central(broker, db, key, capsys, ingest)
    finally:
        ingest.stop()


def remote_hub(root: Path, broker: Broker) -> Node:
    node = make_node(root, broker.url)
    (node.data.root / CENTRAL_PUBLIC_KEY_FILE).write_bytes(public_pem(KEY))
    return node


@contextlib.contextmanager
def running(
    node: Node, central: Central, settings: SyncSettings = FAST_SYNC
) -> Iterator[NodeServices]:
    """The hub with a simulated printer, once central has heard from this run of it (so
    it is subscribed to its command topic) and the printer answers."""
    started = dt.datetime.now(dt.UTC)
    with start_node(node, "hub", settings=settings, devices=[PRINTER]) as services:
        assert services.devices is not None

        def known() -> bool:
            store = CentralStore(central.db)
            try:
                return any(
                    n["node_id"] == node.node.node_id
                    and n["state"] == "online"
                    and dt.datetime.fromisoformat(n["status_at"]) >= started
                    for n in store.fleet_nodes()
                )
            finally:
                store.close()

        assert wait_until(known, 15)
        assert wait_until(lambda: services.devices.status(PRINTER.id)[0] == "online", 10)  # type: ignore[union-attr]
        yield services


@pytest.mark.mqtt
@pytest.mark.slow
def test_probe_reopen_resync_and_logs_round_trips(
    broker: Broker, central: Central, tmp_path: Path
) -> None:
    """GIVEN a hub with a simulated printer WHEN IT sends probe, reopen_devices, resync and
    upload_logs THEN each is answered and central shows the answer: the printer's state (out
    of paper when it is), the re-opened devices, the resend, the log in parts, masked."""
    node = remote_hub(tmp_path / "hub", broker)
    log = node.data.logs / "agent.log"
    line = f"INFO sync: a line about card {ID_NUMBER} and phone {MOBILE} " + "x" * 60
    log.write_text("".join(f"{i:05d} {line}\n" for i in range(3000)))
    with running(node, central) as services:
        assert services.devices is not None
        v = central.send(node, "probe", "--device", PRINTER.id, "--timeout", "5")
        done = central.wait_state(node, v, ("done", "failed"))
        assert done["state"] == "done", done
        assert done["data"]["devices"][PRINTER.id]["status"] == "online"

        services.devices.simulator(PRINTER.id).set_paper_out()
        v = central.send(node, "probe", "--device", PRINTER.id)
        failed = central.wait_state(node, v, ("done", "failed"))
        assert failed["state"] == "failed"
        assert failed["data"]["devices"][PRINTER.id] == {
            "ok": False,
            "status": "fault",
            "reason": "paper_out",
        }

        services.devices.simulator(PRINTER.id).set_paper_out(False)
        v = central.send(node, "reopen_devices")
        reopened = central.wait_state(node, v, ("done", "failed"))
        assert reopened["state"] == "done", (reopened["detail"], reopened["data"])
        assert reopened["data"]["devices"] == {
            PRINTER.id: {"ok": True, "status": "online", "reason": None}
        }
        services.devices.simulator(PRINTER.id).set_silent()
        v = central.send(node, "reopen_devices", "--device", PRINTER.id, "--timeout", "3")
        silent = central.wait_state(node, v, ("done", "failed"))
        assert silent["state"] == "failed", silent
        assert silent["detail"] == f"re-opened 1 device(s); not answering: {PRINTER.id}"
        assert silent["data"]["devices"][PRINTER.id]["ok"] is False
        services.devices.simulator(PRINTER.id).set_silent(False)
        v = central.send(node, "probe", "--device", "no-such-device")
        assert central.wait_state(node, v, ("done", "failed"))["detail"] == (
            "no device 'no-such-device' on this node"
        )

        v = central.send(node, "resync", "--from-seq", "1")
        resync = central.wait_state(node, v, ("done", "failed"))
        assert resync["state"] == "done" and resync["detail"] == "resending the log from seq 1"

        v = central.send(node, "upload_logs", "--lines", "2500")
        logs = central.wait_state(node, v, ("done", "failed"))
        # all parts stored (they may come in after the first)
        assert wait_until(lambda: "/" in central.status(node, v).get("parts", ""), 5)
        assert wait_until(
            lambda: (
                central.status(node, v)["parts"].split("/")[0]
                == central.status(node, v)["parts"].split("/")[1]
            ),
            10,
        )
        logs = central.status(node, v)
        parts = int(logs["parts"].split("/")[1])
        assert parts >= 3  # 2,500 lines of ~130 characters: more than 64 KiB
        got = logs["text"].splitlines()
        assert len(got) == 2500 and got[0].startswith("00500 ") and got[-1].startswith("02999 ")
        assert ID_NUMBER not in logs["text"] and MOBILE not in logs["text"]
        assert "card 110105********123X and phone 138****5678" in got[-1]


@pytest.mark.mqtt
@pytest.mark.slow
def test_expired_replayed_and_forged_commands_are_refused_and_never_run(
    broker: Broker, central: Central, tmp_path: Path
) -> None:
    """GIVEN a hub WHEN a command arrives expired, signed by another key, or again after it
    ran (at once, and after the hub restarted) THEN the hub refuses each with its code,
    central shows why, and the command ran exactly once (a later good command's answer
    is the marker that the refused ones were handled). The same command once newer ones
    ran is ``stale_version``."""
    node = remote_hub(tmp_path / "hub", broker)
    now = dt.datetime.now(dt.UTC)
    with running(node, central):
        expired_v, expired = central.record_and_sign(
            node, now - dt.timedelta(hours=2), dt.timedelta(hours=1)
        )
        central.publish_signed(node, expired)
        forged_v, forged = central.record_and_sign(
            node, now, dt.timedelta(hours=1), key=generate_key()
        )
        central.publish_signed(node, forged)
        good_v, good = central.record_and_sign(node, now, dt.timedelta(hours=1))
        central.publish_signed(node, good)
        assert central.wait_state(node, good_v, ("done", "failed"))["state"] == "done"

        refused = central.wait_state(node, expired_v, ("refused",))
        assert refused["detail"].startswith("expired: expired at ")
        assert wait_until(lambda: central.refusal(node, "bad_signature"), 10)
        assert central.replies(node, expired_v) == [] and central.replies(node, forged_v) == []

        central.publish_signed(node, good)  # the same command again
        assert wait_until(lambda: central.refusal(node, "replayed"), 10)
        marker = central.send(node, "report_status")
        assert central.wait_state(node, marker, ("done",))
    assert central.replies(node, good_v) == [("done", 1)]

    with running(node, central):  # a new process: what it remembers is in its store
        central.publish_signed(node, good)
        marker = central.send(node, "report_status")
        assert central.wait_state(node, marker, ("done",))

        def refused_again() -> list[str]:
            store = CentralStore(central.db)
            try:
                results = store.results(refused=True)
            finally:
                store.close()
            return [r["code"] for r in results if r["version"] == good_v]

        # (newer commands ran since: the old one is now older than the last, not equal)
        assert wait_until(lambda: refused_again() == ["stale_version", "replayed"], 10)
    assert central.replies(node, good_v) == [("done", 1)]


def test_a_command_without_what_it_needs_is_refused_before_signing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "k.pem"
    key.write_bytes(private_pem(KEY))
    db = tmp_path / "central.db"
    base = ["central", "command", "send", "--broker", "mqtt://127.0.0.1:1", "--key", str(key)]
    target = ["--db", str(db), "--hall", "h1", "--node", "n1"]
    assert main([*base[:3], "probe", *base[3:], *target]) == 2
    assert "command: device: required for probe" in capsys.readouterr().err
    assert main([*base[:3], "update_agent", *base[3:], *target, "--version", "1.0; rm"]) == 2
    assert "nothing was signed or sent" in capsys.readouterr().err
    assert main([*base[:3], "reopen_devices", *base[3:], "--db", str(db), "--hall", "h1"]) == 2
    assert "central knows no node of h1" in capsys.readouterr().err
    store = CentralStore(db)
    try:
        assert CommandLedger(store).status(dt.datetime.now(dt.UTC)) == []
    finally:
        store.close()


# ---- the ledger on both central stores -----------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CommandLedger]:
    database = (
        tmp_path / "central.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    )
    store = open_central_store(database)
    try:
        CommandLedger(store)  # made once; a second ledger (another process) finds it made
        yield CommandLedger(store)
    finally:
        store.close()


def test_the_ledger_numbers_remembers_and_answers_on_both_stores(ledger: CommandLedger) -> None:
    """GIVEN commands sent to a node WHEN it answers (a reply delivered twice, a log in two
    parts), refuses one, and leaves one unanswered past its expiry THEN each command's
    state reads the same on SQLite and PostgreSQL, and versions grow per node even when
    the clock goes back."""
    now = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    target = Target("h1", "n1")
    first = ledger.next_version("n1", now)
    assert first == int(now.timestamp() * 1000)
    ledger.record_sent(target, first, {"name": "probe", "device": "p"}, now, now + hour)
    earlier = now - dt.timedelta(days=1)  # a clock set back: the version still grows
    logs = ledger.next_version("n1", earlier)
    assert logs == first + 1
    ledger.record_sent(target, logs, {"name": "upload_logs", "lines": 3}, now, now + hour)
    refused = ledger.next_version("n1", now)
    ledger.record_sent(target, refused, {"name": "report_status"}, now, now + hour)
    lost = ledger.next_version("n1", now)
    ledger.record_sent(target, lost, {"name": "report_status"}, now, now + hour)
    assert ledger.next_version("n2", earlier) == int(earlier.timestamp() * 1000)
    taken = ledger.reserve(Target("h1", "n2"), {"name": "report_status"}, earlier, now)
    ledger.store._execute(  # another sender took the next number meanwhile
        "INSERT INTO remote_commands VALUES (?, ?, 'h1', 'report_status', '{}', ?, ?)",
        ("n2", taken + 1, earlier.isoformat(), now.isoformat()),
    )
    assert ledger.reserve(Target("h1", "n2"), {"name": "report_status"}, earlier, now) == (
        taken + 2
    )

    def reply(version: int, name: str, status: str, **kw: Any) -> ct.CommandReply:
        return make_reply("n1", version, name, status, "d", **kw)  # type: ignore[arg-type]

    done = reply(first, "probe", "done", data={"devices": {"p": {"ok": True}}})
    ledger.record_reply(done)
    ledger.record_reply(done)  # redelivered: stored once
    for part, text in ((2, "c\n"), (1, "a\nb\n")):
        ledger.record_reply(reply(logs, "upload_logs", "done", part=part, parts=2, text=text))
    refusal = ct.InboundResult(
        schema_version=1, node_id="n1", topic="t", kind="command", version=refused,
        accepted=False, code="expired", reason="expired at x", at=now.isoformat(),
    )  # fmt: skip
    ledger.store.record_result(refusal)
    states = {c["version"]: c for c in ledger.status(now + 2 * hour, node_id="n1", limit=10)}
    assert states[first]["state"] == "done"
    assert states[first]["data"] == {"devices": {"p": {"ok": True}}}
    assert (states[logs]["text"], states[logs]["parts"]) == ("a\nb\nc\n", "2/2")
    assert states[refused]["state"] == "refused"
    assert states[refused]["detail"] == "expired: expired at x"
    assert states[lost]["state"] == "expired"
    assert ledger.status(now, node_id="n1", version=lost)[0]["state"] == "sent"
    count = ledger.store._execute("SELECT COUNT(*) FROM command_replies").fetchone()[0]
    assert count == 3


@pytest.mark.mqtt
@pytest.mark.slow
def test_an_answer_made_while_central_is_away_is_sent_after_a_restart(
    broker: Broker, central: Central, tmp_path: Path
) -> None:
    """GIVEN a hub whose central broker went away WHEN a command's answer is made then and
    the hub shuts down before it could send it THEN the answer waits on disk, and central
    gets it once the hub runs again and reaches the broker (then the file is gone)."""
    node = remote_hub(tmp_path / "hub", broker)
    pending = node.data.root / PENDING_REPLIES_DIR
    with running(node, central) as services:
        assert services.sync is not None
        version, _ = central.record_and_sign(node, dt.datetime.now(dt.UTC), dt.timedelta(hours=1))
        broker.stop()
        for worker in central.ingest.workers:  # central subscribes again after the restart
            worker.ready.clear()
        services.sync._remote.submit(version, ct.CommandData(name="probe", device=PRINTER.id))
        assert wait_until(lambda: len(list(pending.glob("*.json"))) == 1, 10)
    (stored,) = pending.glob("*.json")
    assert ct.CommandReply.model_validate_json(stored.read_bytes()).version == version
    broker.start()
    assert central.ingest.wait_ready(20)
    with running(node, central):
        answered = central.wait_state(node, version, ("done", "failed"))
        assert answered["state"] == "done", answered
        assert answered["data"]["devices"][PRINTER.id]["status"] == "online"
        assert wait_until(lambda: not list(pending.glob("*.json")), 10)


def test_a_nodes_text_cannot_drive_the_operators_terminal() -> None:
    """A reply's detail or log text with an escape sequence (a node clearing the screen or
    recolouring a line) is printed with its control characters shown as ``?``."""
    from sync.fleet.command_cli import _printable

    assert _printable("done\x1b[2J\x1b[31mOK") == "done?[2J?[31mOK"
    assert _printable("line 1\nline\t2\r", keep="\n\t") == "line 1\nline\t2?"
