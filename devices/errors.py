"""Device errors: one subclass of :class:`agent.errors.DeviceError` per stable reason code.

Each error carries ``device`` (the device id or port) and ``reason`` (a short code that
the UI translates and the core records in ``DeviceStatusChanged``). Messages never contain
personal data from ID cards.
"""

from __future__ import annotations

from typing import Any

from agent.errors import DeviceError


class DeviceFault(DeviceError):
    """Base of the device errors raised by :mod:`devices`."""

    code = "device_error"

    def __init__(self, message: str, *, device: str, reason: str | None = None, **details: Any):
        super().__init__(message, device=device, reason=reason or self.code, **details)

    @property
    def device(self) -> str:
        return str(self.details["device"])

    @property
    def reason(self) -> str:
        return str(self.details["reason"])


class PortUnavailable(DeviceFault):
    """The port cannot be opened (missing device, permissions, bad URL)."""

    code = "port_unavailable"


class PortGone(DeviceFault):
    """The port disappeared while in use (USB unplugged, pty closed)."""

    code = "port_gone"


class NoAnswer(DeviceFault):
    """The device did not answer within its timeout."""

    code = "no_answer"


class BadFrame(DeviceFault):
    """The device answered with bytes that are not a valid frame."""

    code = "bad_frame"


class DeviceRefused(DeviceFault):
    """The device answered with an error status (e.g. SAM SW3 other than success)."""

    code = "device_refused"


class SamNotReady(DeviceFault):
    """The ID-card reader answers, but its security module (SAM) reports it is not ready."""

    code = "sam_not_ready"


class UnsupportedDevice(DeviceFault):
    """The port or profile asks for something this build cannot drive."""

    code = "unsupported"
