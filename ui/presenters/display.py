"""Hall display presenter (综合屏): latest call, recent calls, windows, waiting, notices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal

from agent.config import HallConfig
from ui.alarms import alarm_lines
from ui.presenters.base import HallReading, Presenter

RECENT = 12  # calls kept for the recent list; the screen shows as many as fit


@dataclass(frozen=True)
class CallVM:
    number: str
    window: int
    window_name: str
    citizen_name: str | None  # masked, and only when the hall allows names on screen


@dataclass(frozen=True)
class WindowRow:
    number: int
    name: str
    current: str | None
    status: str
    state: str  # calling | serving | paused | closed (none of its services open) | idle


@dataclass(frozen=True)
class ServiceRow:
    name: str
    waiting: int


@dataclass(frozen=True)
class DisplayVM:
    hall_name: str
    latest: CallVM | None
    recent: list[CallVM]
    windows: list[WindowRow]
    services: list[ServiceRow]
    notice: str
    alarms: tuple[str, ...] = ()  # translated; only the kinds the hall config puts on display


class DisplayPresenter(Presenter):
    """Everything on the display changes with the queue, so every core event refreshes it."""

    changed = Signal(object)  # DisplayVM
    called = Signal(str, int)  # number, window: a new call or recall to announce and flash

    def on_event(self, event: Any) -> None:
        if event.type in ("TicketCalled", "TicketRecalled"):
            self.called.emit(event.payload["number"], event.payload["window"])
        self.refresh_soon()

    def read_more(self) -> list[dict[str, Any]]:
        return self.core.notices()

    def show(self, reading: HallReading) -> None:
        status, config, live = reading.status, reading.config, reading.more
        pick = self.languages.pick
        show_names = config.display.show_masked_names
        window_names = {w.number: pick(w.name_zh, w.name_en) for w in config.windows}
        recent: list[CallVM] = []
        seen: set[str] = set()
        for call in status["recent_calls"]:
            if call["number"] in seen or call["window"] is None:
                continue
            seen.add(call["number"])
            name = call["citizen_name"] if show_names else None
            recent.append(
                CallVM(call["number"], call["window"], window_names.get(call["window"], ""), name)
            )
        open_now = {s["code"] for s in status["services"] if s["open_now"]}
        notice = pick(config.display.notice_zh, config.display.notice_en)
        if live:
            notice = "    ".join(pick(n["text_zh"], n["text_en"]) for n in live[-3:])
        self.changed.emit(
            DisplayVM(
                hall_name=pick(config.name_zh, config.name_en),
                latest=recent[0] if recent else None,
                recent=recent[1 : RECENT + 1],
                windows=[
                    WindowRow(
                        w["number"],
                        pick(w["name_zh"], w["name_en"]),
                        w["current"],
                        w["status"],
                        _window_state(w, config, open_now, status.get("staffed", False)),
                    )
                    for w in status["windows"]
                ],
                services=[
                    ServiceRow(pick(s["name_zh"], s["name_en"]), s["waiting"])
                    for s in status["services"]
                ],
                notice=notice,
                alarms=alarm_lines(
                    [a for a in status.get("alarms", []) if a["kind"] in config.alarms.on_display],
                    config,
                    pick,
                ),
            )
        )


def _window_state(
    window: dict[str, Any], config: HallConfig, open_now: set[str], staffed: bool
) -> str:
    """What a window is doing, as the hall sees it (in a hall with a staff list, a window
    nobody is signed in at is closed)."""
    if window["status"] == "paused":
        return "paused"
    if window["current_state"] == "called":
        return "calling"
    if window["current_state"] == "serving":
        return "serving"
    served = config.window(window["number"])
    if served is not None and not open_now.intersection(served.services):
        return "closed"
    if staffed and window.get("staff_id") is None:
        return "closed"
    return "idle"
