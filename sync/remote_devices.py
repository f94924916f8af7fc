"""What the remote commands ``reopen_devices`` and ``probe`` need from the node's devices,
and the one adapter from that to the device manager as it is today.

The adapter re-opens a device by closing its driver for its worker to open again, and
probes it with the health step the device's worker runs (a printer answers its real-time
status; other kinds count as answering when they open). When the device manager grows its
own ``reopen``/``probe``, only :class:`ManagerDevices` changes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from devices.errors import DeviceFault

if TYPE_CHECKING:
    from devices.manager import DeviceManager, ManagedDevice


class UnknownDevice(KeyError):
    """No device of that id on this node."""


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
        """Close the driver and let the device's own worker open it again (it does so, with
        its backoff, whenever it finds none; opening here instead would race a read the
        worker has under way on the old driver, whose failure closes the new one), then
        probe it; after ``timeout`` s without a driver, its state as it is."""
        device = self._device(device_id)
        with device.lock:
            device.close_driver()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with device.lock:
                opened = device.driver is not None
            if opened:  # now its health, as a probe
                return self.probe(device_id, max(0.1, deadline - time.monotonic()))
            time.sleep(0.05)
        return self._answer(device)

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
