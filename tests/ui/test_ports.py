"""The device port: what device threads report, the GUI thread reads safely."""

from __future__ import annotations

from ui.ports import DevicePort


def test_states_is_a_snapshot_that_reports_do_not_change(qapp):
    """GIVEN a device state being iterated (the kiosk's printer banner, the window's device
    row) WHEN a device thread reports a new device meanwhile THEN the iteration is not broken
    ("dictionary changed size during iteration") and the report is kept."""
    port = DevicePort()
    port.report("kiosk-printer", "online")
    for device in port.states:
        port.report(f"{device}-spare", "fault", "offline")  # what a device thread does
    assert port.states == {
        "kiosk-printer": ("online", None),
        "kiosk-printer-spare": ("fault", "offline"),
    }
