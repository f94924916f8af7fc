"""The device port on the real device manager (devices/), with simulators for the demo."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agent.node import DeviceSpec
from ui.ports import DevicePort, PrintOutcome, SlipLayout, card_from_driver

if TYPE_CHECKING:
    from devices.manager import DeviceManager

log = logging.getLogger(__name__)


def demo_device_specs(windows: list[int], evaluator_windows: list[int]) -> list[DeviceSpec]:
    """The demo hall's devices, all simulated on pseudo-terminals: the kiosk's printer, ID
    reader and scanner, one RS-485 bus of LED strips (address = window number) and an
    evaluator at each window in ``evaluator_windows`` (the others rate by QR code)."""
    specs = [
        DeviceSpec(
            id="kiosk-printer", kind="printer", profile="escpos-80mm", port="sim", simulated=True
        ),
        DeviceSpec(
            id="kiosk-idreader", kind="idreader", profile="ga467-serial", port="sim", simulated=True
        ),
        DeviceSpec(
            id="kiosk-scanner", kind="scanner", profile="scanner-serial", port="sim", simulated=True
        ),
        DeviceSpec(
            id="led-bus", kind="led", profile="led-rs485-generic", port="sim", simulated=True
        ),
    ]
    for number in windows:
        if number in evaluator_windows:
            specs.append(
                DeviceSpec(
                    id=f"evaluator-{number}",
                    kind="evaluator",
                    profile="evaluator-generic",
                    port="sim",
                    window=number,
                    address=1,
                    simulated=True,
                )
            )
    return specs


class ManagedDevices(DevicePort):
    """:class:`DevicePort` over the ``devices.manager.DeviceManager`` the node start-up
    opened (:func:`sync.node.start_node`, which also closes it); the screens print on it,
    read cards and codes from it and show its health."""

    def __init__(self, manager: DeviceManager) -> None:
        super().__init__()
        self.specs = [d.spec for d in manager.devices.values()]
        self.manager = manager
        manager.on_status(self.report)  # device thread: a queued signal
        for device in manager.devices.values():  # what it found before the screens came
            if device.status is not None:
                self.report(device.id, device.status, device.reason)
        manager.on_card(lambda _device, card: self.card.emit(card_from_driver(card)))
        manager.on_code(self._scanned)

    def _scanned(self, device: str, code: str) -> None:
        """Device thread: a window's scanner reads for that window's station only (a staff
        badge), any other scanner for the kiosk."""
        window = self.where(device).get("window")
        if window is None:
            self.code.emit(code)
        else:
            self.window_code.emit(window, code)

    def where(self, device: str) -> dict[str, Any]:
        spec = next((s for s in self.specs if s.id == device), None)
        return {} if spec is None else {"kind": spec.kind, "window": spec.window}

    def has_printer(self) -> bool:
        return any(s.kind == "printer" for s in self.specs)

    def has_evaluator(self, window: int) -> bool:
        return self.manager.has_evaluator(window)

    def has_led(self, window: int) -> bool:
        return self.manager.has_led(window)

    def print_ticket(self, layout: SlipLayout) -> PrintOutcome:
        from devices.printer import TicketLayout

        handle = self.manager.printer()
        if handle is None:
            return PrintOutcome(False, "no_printer")
        result = handle.print_ticket(
            TicketLayout(
                hall_name=layout.hall_name,
                service_name=layout.service_name,
                number=layout.number,
                people_ahead=layout.people_ahead,
                estimated_wait_min=layout.estimated_wait_min,
                issued_at=layout.issued_at,
                windows=layout.windows,
                qr_payload=layout.qr_payload,
                notice=layout.notice,
            )
        )
        return PrintOutcome(result.ok, result.reason)

    def simulator(self, device_id: str) -> Any:
        device = self.manager.devices.get(device_id)
        return None if device is None else device.simulator
