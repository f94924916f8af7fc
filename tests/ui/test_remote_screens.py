"""A terminal's screens with a hub that is down, slow or silent (a fake LAN client in front of
a real core, no broker): start-up, taps off the GUI thread, unknown outcomes."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from agent import commands as c
from agent.runtime import CoreRuntime
from agent.views import QUERIES
from sync.lan import HubUnreachable
from tests.ui.conftest import open_node
from ui import app as app_module
from ui.app import HallApp
from ui.core import LocalCore, RemoteCore
from ui.ports import FakeDevices


class HubLan:
    """Answers like ``LanClient`` from a core in this process. ``online`` False: every call
    raises HubUnreachable; ``gate`` set: a command waits for it (a slow hub); ``silent``: a
    command never gets an answer."""

    def __init__(self, runtime: CoreRuntime) -> None:
        self.runtime = runtime
        self.online = True
        self.silent = False
        self.reads_fail = False
        self.gate: threading.Event | None = None
        self.calls: list[c.Command] = []
        self.threads: set[str] = set()

    def execute(
        self, command: c.Command, timeout: float = 5.0, request_id: str | None = None
    ) -> dict[str, Any]:
        if not isinstance(command, c.DeviceStatusChanged):  # device health: posted, not waited
            self.calls.append(command)
            self.threads.add(threading.current_thread().name)
        if self.gate is not None:
            self.gate.wait(5)
        if self.silent or not self.online:
            raise HubUnreachable("no reply from the hub", request_id=request_id)

        def run(store: Any) -> dict[str, Any] | None:
            result = store.execute(command)
            return None if result.ticket is None else store.ticket_view(result.ticket)

        return {"ticket": self.runtime._query(run, 10.0), "events": [], "last_seq": 0}

    def query(self, name: str, timeout: float = 5.0, **args: Any) -> Any:
        if not self.online or self.reads_fail:
            raise HubUnreachable("the hub is offline")
        return self.runtime._query(lambda s: QUERIES[name](s, **args), 10.0)

    def wait_hub(self, timeout: float) -> bool:
        return self.online

    @property
    def hub_online(self) -> bool:
        return self.online

    def subscribe(self, callback: Any) -> Any:
        return lambda: None


@pytest.fixture
def terminal(tmp_path: Path, qtbot, monkeypatch):
    """Build a terminal (kiosk, window 1, display) on a fake LAN; stopped after the test."""
    monkeypatch.setattr(RemoteCore, "PRESENCE_POLL_MS", 20)
    monkeypatch.setattr(app_module, "CONFIG_RETRY_MS", 20, raising=False)
    made: list[tuple[HallApp, Any]] = []
    runtime = open_node(tmp_path / "hub").runtime().start()
    lan = HubLan(runtime)

    def build(language: str = "en", online: bool = True) -> HallApp:
        lan.online = online
        node = open_node(tmp_path / "terminal")
        core = RemoteCore(lan)
        app = HallApp(node, core, FakeDevices(), language, windows=[1], voice="silent")
        for view in app.views().values():
            qtbot.addWidget(view)
        made.append((app, core))
        if online:  # the screens read the hall off the GUI thread: wait for the first read
            kiosk = app.kiosk_view
            assert kiosk is not None
            qtbot.waitUntil(lambda: bool(kiosk.service_codes()), timeout=3000)
        return app

    yield build, lan, runtime
    if lan.gate is not None:
        lan.gate.set()
    for app, core in made:
        app.close()
        core.close()
    runtime.stop()


def test_a_terminal_started_while_the_hub_is_down_connects_when_it_answers(terminal, qtbot):
    """GIVEN a terminal whose hub is down WHEN it starts THEN every screen appears and says
    it is connecting (no exception); WHEN the hub comes up THEN the screens come alive."""
    build, lan, _runtime = terminal
    hall = build("zh_CN", online=False)
    kiosk, window, display = hall.kiosk_view, hall.window_views[1], hall.display_view
    assert kiosk is not None and display is not None
    for view in (kiosk, window, display):
        assert not view.hub_problem.isHidden()
        assert view.hub_problem.text() == "正在连接大厅系统…"
    assert not hall.config_ready
    lan.online = True
    qtbot.waitUntil(lambda: hall.config_ready, timeout=3000)
    qtbot.waitUntil(lambda: kiosk.hub_problem.isHidden(), timeout=3000)
    assert kiosk.service_button("social-security").isEnabled()
    qtbot.waitUntil(lambda: window.hub_problem.isHidden() and display.hub_problem.isHidden())


def test_a_remote_tap_runs_off_the_gui_thread_and_a_second_tap_is_ignored(terminal, qtbot):
    """GIVEN a terminal's kiosk and a slow hub WHEN a citizen taps THEN the tap returns at
    once and the kiosk says please wait; a second tap is ignored; WHEN the hub answers THEN
    the number is on screen and only one ticket was issued."""
    build, lan, runtime = terminal
    hall = build()
    kiosk = hall.kiosk_view
    assert kiosk is not None
    lan.gate = threading.Event()
    began = time.monotonic()
    qtbot.mouseClick(kiosk.service_button("social-security"), Qt.MouseButton.LeftButton)
    assert time.monotonic() - began < 1.0  # the GUI did not wait for the hub
    assert not kiosk.wait.isHidden()
    assert kiosk.wait.text() == "Please wait, your number is being issued…"
    qtbot.mouseClick(kiosk.service_button("household"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(lan.calls) == 1, timeout=2000)
    lan.gate.set()
    qtbot.waitUntil(lambda: kiosk.number.text() == "A001", timeout=3000)
    assert kiosk.wait.isHidden()
    assert threading.main_thread().name not in lan.threads
    assert runtime._query(lambda s: s.state.counters) == {"social-security": 1}
    assert len(lan.calls) == 1


def test_a_remote_window_action_runs_off_the_gui_thread(terminal, qtbot):
    """GIVEN a window station on a terminal and a slow hub WHEN staff call the next citizen
    THEN the GUI does not wait, a second press is ignored, and the call shows when done."""
    build, lan, runtime = terminal
    hall = build()
    runtime._query(lambda s: s.execute(c.IssueTicket("social-security")))
    window = hall.window_views[1]
    hall.windows[1].refresh()  # the fake LAN carries no events
    qtbot.waitUntil(lambda: window.buttons["call"].isEnabled(), timeout=3000)
    lan.gate = threading.Event()
    began = time.monotonic()
    assert hall.windows[1].call_next() is False  # not done yet: it finishes later
    assert hall.windows[1].call_next() is False  # ignored while the first one runs
    assert time.monotonic() - began < 1.0
    assert window.message.text() == "Please wait…"
    lan.gate.set()
    qtbot.waitUntil(lambda: window.message.text() == "Called A001", timeout=3000)  # feedback
    hall.windows[1].refresh()
    qtbot.waitUntil(lambda: window.current_number.text() == "A001", timeout=3000)
    assert len(lan.calls) == 1


def test_a_remote_issue_that_times_out_says_the_number_may_exist(terminal, qtbot, monkeypatch):
    """GIVEN a hub that never answers WHEN a citizen taps THEN after the retries the kiosk
    does not say it failed: the number may have been issued, ask the staff."""
    monkeypatch.setattr(RemoteCore, "COMMAND_BUDGET_S", 0.3)
    build, lan, _runtime = terminal
    hall = build()
    kiosk = hall.kiosk_view
    assert kiosk is not None
    lan.silent = True
    qtbot.mouseClick(kiosk.service_button("social-security"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not kiosk.message.isHidden(), timeout=5000)
    text = kiosk.message.text()
    assert "may have been issued" in text and "ask the staff" in text
    assert kiosk.wait.isHidden()
    assert len(lan.calls) == RemoteCore.COMMAND_TRIES


def test_a_number_issued_while_the_config_is_out_of_reach_is_still_shown(terminal, qtbot):
    """GIVEN a terminal whose cached hall config was dropped and whose reads now fail WHEN
    the hub issues a ticket THEN the citizen still sees the number (no exception in a slot)."""
    build, lan, _runtime = terminal
    hall = build()
    kiosk = hall.kiosk_view
    assert kiosk is not None
    hall.core._config = None  # type: ignore[attr-defined]  # as after a presence change
    lan.reads_fail = True
    qtbot.mouseClick(kiosk.service_button("social-security"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "A001" in kiosk.message.text(), timeout=3000)
    assert kiosk.wait.isHidden()
    assert not hall.kiosk.issuing  # type: ignore[union-attr]


def test_a_local_timeout_also_says_the_number_may_exist(make_hall, qtbot, monkeypatch):
    """GIVEN a local core that does not answer a command in time WHEN a citizen taps THEN
    the kiosk says the number may have been issued (a timeout is unknown, not failed)."""
    hall = make_hall(language="en")

    def slow(self: LocalCore, command: c.Command) -> None:
        raise TimeoutError

    monkeypatch.setattr(LocalCore, "command", slow)
    assert hall.kiosk is not None and hall.kiosk_view is not None
    assert hall.kiosk.take("social-security") is False
    assert "may have been issued" in hall.kiosk_view.message.text()
