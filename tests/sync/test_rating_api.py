"""The window's business system (受理系统) asks for a rating with its 办件编号 through the
node's loopback interface (HTTP, and the CLI in front of it) and reads the result."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import commands as c
from agent.node import DeviceSpec
from agent.node_runtime import Node
from agent.ratings import NO_REASON
from devices.simulators import start_simulator
from sync.node import start_node
from sync.rating_api import RatingApi
from tests.support import wait_until
from tests.sync.conftest import REPO, free_port, make_node

CASE = "330102-BJ-2026-000123"


def _cli(*args: str) -> dict[str, Any]:
    """``hall-agent rating ARGS --json`` as the business system runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "rating", *args, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _with_rating_port(root: Path) -> Node:
    node = make_node(root)
    data = yaml.safe_load((root / "node.yaml").read_text())
    data["rating_api_port"] = free_port()
    (root / "node.yaml").write_text(yaml.safe_dump(data))
    return Node.open(node.data.root)


@pytest.mark.slow
def test_business_system_triggers_a_rating_with_its_case_number_end_to_end(
    tmp_path: Path,
) -> None:
    """GIVEN a node with the loopback rating interface and a keys-only evaluator at window 1
    WHEN the business system asks (CLI over the interface) for a rating of its case while
    the citizen is served, the service finishes and the citizen presses 不满意
    THEN reading the case gives level 2, "no reason given", the ticket and the 事项编码."""
    node = _with_rating_port(tmp_path / "hub")
    keys = start_simulator("evaluator", "evaluator-generic")
    spec = DeviceSpec(
        id="ev-1", kind="evaluator", profile="evaluator-generic", port=keys.port, window=1
    )
    try:
        with start_node(node, "hub", devices=[spec]) as services:
            runtime, api = services.runtime, services.rating_api
            assert runtime is not None and api is not None
            assert api.url == f"http://127.0.0.1:{node.node.rating_api_port}"
            ticket = runtime.execute(c.IssueTicket("social-security")).ticket
            assert ticket is not None
            runtime.execute(c.CallNext(1))
            runtime.execute(c.StartService(1))
            asked = _cli("request", "--window", "1", "--case", CASE, "--api", api.url)
            assert asked == {"case": CASE, "state": "requested", "number": ticket.number}
            runtime.execute(c.FinishService(1))
            assert keys.wait_request(10)
            assert keys.press(2)
            assert wait_until(lambda: _get(api.url, CASE)[1].get("state") == "rated")
            result = _cli("show", CASE, "--api", api.url)
    finally:
        keys.stop()
    assert result["number"] == ticket.number and result["window"] == 1
    assert result["level"] == 2 and result["reasons"] == [NO_REASON]
    assert result["item_code"] == "11330100MB0000001X-SS-001"
    assert result["channel"] == "evaluator"
    store = node.store()  # the rating in the log carries the case number
    try:
        rated = [e.payload for e in store.events_since(0) if e.type == "EvaluationRecorded"]
    finally:
        store.close()
    assert [p["case"] for p in rated] == [CASE]


def _get(url: str, case: str) -> tuple[int, dict[str, Any]]:
    return _http("GET", f"{url}/ratings/{case}")


def _http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    sent = {"Content-Type": "application/json"} | (headers or {})
    request = urllib.request.Request(url, data=body, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class _Core:
    """The core as the interface sees it: the commands it was given, and one refusal."""

    def __init__(self) -> None:
        self.commands: list[c.Command] = []

    def execute(self, command: c.Command) -> None:
        from agent.errors import NoCurrentTicket

        self.commands.append(command)
        raise NoCurrentTicket("window 1 serves no ticket to rate")

    def read(self, name: str, **args: Any) -> None:
        return None


def test_bad_requests_get_a_clear_error_and_change_nothing() -> None:
    core = _Core()
    api = RatingApi(core.execute, core.read, windows=[1]).start()
    try:
        assert api._server.server_address[0] == "127.0.0.1"  # loopback only
        post = f"{api.url}/ratings"
        assert _http("POST", post, b"not json")[0] == 400
        assert _http("POST", post, json.dumps({"window": 1}).encode())[0] == 400
        bad_case = json.dumps({"window": 1, "case": "a case"}).encode()
        assert _http("POST", post, bad_case) == (
            400,
            {"error": "bad_case", "message": "case is 1-64 letters, digits or _./:-"},
        )
        other = json.dumps({"window": 2, "case": CASE}).encode()
        assert _http("POST", post, other)[0] == 403
        line_break = json.dumps({"window": 1, "case": CASE + "\n"}).encode()
        assert _http("POST", post, line_break)[0] == 400
        deep = b"[" * 2000 + b"]" * 2000  # within 4 KiB, too deep for the JSON parser
        assert _http("POST", post, deep)[0] == 400
        good = json.dumps({"window": 1, "case": CASE}).encode()
        # a web page in the window PC's browser: a form post, or a rebound host name
        assert _http("POST", post, good, {"Content-Type": "text/plain"})[0] == 415
        assert _http("POST", post, good, {"Host": "evil.example"})[0] == 403
        assert _http("GET", f"{api.url}/ratings/{CASE}", None, {"Host": "evil.example"})[0] == 403
        assert core.commands == []  # none of these reached the core
        refused = _http("POST", post, json.dumps({"window": 1, "case": CASE}).encode())
        assert refused[0] == 409 and refused[1]["error"] == "no_current_ticket"
        assert _get(api.url, CASE) == (
            404,
            {"error": "unknown_case", "message": f"no rating asked for {CASE}"},
        )
        assert _http("GET", f"{api.url}/elsewhere")[0] == 404
    finally:
        api.stop()


@pytest.mark.mqtt
def test_a_window_pcs_interface_reaches_the_hub_over_the_hall_lan(
    tmp_path: Path, hall_broker: Any
) -> None:
    """GIVEN window PC window-1 (hall.yaml: window 1) with the interface, the hub over the
    shipped hall broker WHEN its business system asks for a rating of a case THEN the hub
    records the request, the rating carries the case, and the PC reads it back; a window
    the hub does not give this PC is refused by the hub even if the PC were set up wrong."""
    from sync.node_devices import lan_execute
    from tests.sync.test_lan import hub_node, running_hub

    with running_hub(hub_node(tmp_path / "hub", hall_broker), hall_broker) as hall:
        client = hall.terminal("window-1")
        api = RatingApi(lan_execute(client), client.query, windows=[1, 3]).start()
        try:
            runtime = hall.runtime
            ticket = runtime.execute(c.IssueTicket("social-security")).ticket
            assert ticket is not None
            runtime.execute(c.CallNext(1))
            runtime.execute(c.StartService(1))
            body = json.dumps({"window": 1, "case": CASE}).encode()
            assert _http("POST", f"{api.url}/ratings", body) == (
                202,
                {"case": CASE, "state": "requested", "number": ticket.number},
            )
            runtime.execute(c.FinishService(1))
            runtime.execute(c.RecordEvaluation(1, 4))
            status, found = _get(api.url, CASE)
            assert status == 200 and found["state"] == "rated" and found["level"] == 4
            other = json.dumps({"window": 3, "case": "OTHER-1"}).encode()
            status, refused = _http("POST", f"{api.url}/ratings", other)
            assert status == 403 and refused["error"] == "forbidden"
        finally:
            api.stop()
