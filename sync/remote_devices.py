"""What the remote commands ``reopen_devices`` and ``probe`` need from the node's devices,
and the one adapter from that to the device manager as it is today.

``reopen`` is the device manager's health-checked re-open (devices/manager.py); ``probe``
runs the health step the device's worker runs, so its answer is the device's state now (a
printer out of paper answers, and is reported as not fit to print).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from devices.errors import DeviceFault

if TYPE_CHECKING:
    from devices.manager import DeviceManager, ManagedDevice


class UnknownDevice(KeyError):
    """No device of that id on this node."""

    def describe(self) -> str:
        terminal, _, device = str(self.args[0]).rpartition("/")
        where = f"terminal {terminal}" if terminal else "this node"
        return f"no device {device!r} on {where}"


class UnknownTerminal(UnknownDevice):
    """A ``terminal/device`` id whose terminal the hall config does not name."""

    def describe(self) -> str:
        terminal = str(self.args[0]).partition("/")[0]
        return f"no terminal {terminal!r} in the hall's terminals (hall.yaml terminals)"


@dataclass(frozen=True)
class DeviceAnswer:
    """A device's state after a re-open or a probe; ``ok`` when it answered."""

    device_id: str
    ok: bool
    status: str
    reason: str | None

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "status": self.status, "reason": self.reason}


class DeviceControl(Protocol):
    def device_ids(self) -> list[str]: ...

    def reopen(self, device_id: str, timeout: float) -> DeviceAnswer: ...

    def probe(self, device_id: str, timeout: float) -> DeviceAnswer: ...


class ManagerDevices:
    """:class:`DeviceControl` over a started :class:`~devices.manager.DeviceManager`."""

    def __init__(self, manager: DeviceManager) -> None:
        self._manager = manager

    def device_ids(self) -> list[str]:
        return sorted(self._manager.devices)

    def _device(self, device_id: str) -> ManagedDevice:
        try:
            return self._manager.devices[device_id]
        except KeyError:
            raise UnknownDevice(device_id) from None

    def reopen(self, device_id: str, timeout: float) -> DeviceAnswer:
        """Re-open the device with the profile it has and probe it (the device manager's
        health-checked re-open: a device that does not answer is reported failed)."""
        device = self._device(device_id)
        outcome = self._manager.reopen(device_id, device.profile, timeout)
        answer = self._answer(device)
        if outcome.outcome != "applied":
            return DeviceAnswer(device_id, False, answer.status, outcome.reason or answer.reason)
        return answer

    def probe(self, device_id: str, timeout: float) -> DeviceAnswer:
        """Run the health step on a thread of its own, waiting ``timeout`` s at most."""
        device = self._device(device_id)

        def step() -> None:
            with device.lock:
                if device.driver is None:
                    return
                try:
                    device.step_health()
                except DeviceFault as exc:
                    device.fail(exc)

        worker = threading.Thread(target=step, name=f"probe-{device_id}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            return DeviceAnswer(device_id, False, device.status or "offline", "no_answer_in_time")
        return self._answer(device)

    @staticmethod
    def _answer(device: ManagedDevice) -> DeviceAnswer:
        with device.lock:
            opened = device.driver is not None
            status, reason = device.status or "offline", device.reason
        return DeviceAnswer(device.id, opened and status == "online", status, reason)
