"""Demo helpers: the sample appointment roster and the controls behind the simulator panel."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from agent import commands as c
from agent.config import HallConfig
from agent.privacy import citizen_key, mask_name
from ui.ports import CardRead, DevicePort, FakeDevices

SAMPLE_APPOINTMENTS = ("APPT-DEMO-0001", "APPT-DEMO-0002", "APPT-DEMO-0003")
INVALID_CODE = "NOT-A-BOOKING-42"


def sample_roster(config: HallConfig, now: dt.datetime) -> c.LoadAppointments:
    """Three booked appointments for today, the slot around now (the demo runs any hour)."""
    local = now.astimezone(config.zone)
    start = local - dt.timedelta(minutes=10)
    services = [s.code for s in config.services]
    names = ("王*", "李*", "赵**")
    entries = tuple(
        c.RosterEntry(
            code, services[i % len(services)], start, start + dt.timedelta(hours=1), names[i]
        )
        for i, code in enumerate(SAMPLE_APPOINTMENTS)
    )
    return c.LoadAppointments(f"demo-{local.date().isoformat()}", entries)


def _card_file(name: str) -> Any:
    from devices.simulators.idreader import sample_card

    return sample_card(name)


class DemoControls:
    """What the simulator panel can do: swipe a card, scan a code, empty the printer,
    press an evaluator key. Works on the simulators or, without devices/, on the fakes."""

    def __init__(self, devices: DevicePort, secret: bytes) -> None:
        self.devices = devices
        self.secret = secret

    def _sim(self, device_id: str) -> Any:
        getter = getattr(self.devices, "simulator", None)
        return getter(device_id) if getter else None

    def swipe(self, card: str) -> None:
        sim = self._sim("kiosk-idreader")
        if sim is not None:
            sim.present(_card_file(card))
            return
        data = json.loads(_card_file(card).read_text(encoding="utf-8"))["fields"]
        birth = dt.date(int(data["birth"][:4]), int(data["birth"][4:6]), int(data["birth"][6:8]))
        read = CardRead(citizen_key(self.secret, data["number"]), mask_name(data["name"]), birth)
        if isinstance(self.devices, FakeDevices):
            self.devices.swipe(read)

    def scan(self, code: str) -> None:
        sim = self._sim("kiosk-scanner")
        if sim is not None:
            sim.emit(code)
        elif isinstance(self.devices, FakeDevices):
            self.devices.scan(code)

    def set_paper_out(self, value: bool) -> None:
        sim = self._sim("kiosk-printer")
        if sim is not None:
            sim.set_paper_out(value)
        elif isinstance(self.devices, FakeDevices):
            self.devices.paper_out = value

    def rating_pending(self, window: int) -> bool:
        sim = self._sim(f"evaluator-{window}")
        if sim is not None:
            return bool(sim.pending)
        if isinstance(self.devices, FakeDevices):
            return any(w == window for w, _n in self.devices.rating_requests)
        return False

    def press(self, window: int, score: int) -> bool:
        sim = self._sim(f"evaluator-{window}")
        if sim is not None:
            return bool(sim.press(score))
        if isinstance(self.devices, FakeDevices):
            self.devices.press(window, score)
            return True
        return False

    def printed(self) -> list[str]:
        sim = self._sim("kiosk-printer")
        if sim is not None:
            return list(sim.tickets)
        return [p.number for p in getattr(self.devices, "printed", [])]
