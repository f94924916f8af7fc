"""Hall devices: drivers, wire-level simulators, profiles and the device manager.

Drivers know bytes and timing, nothing about queues. Each driver holds a
:class:`devices.transport.Transport`; the simulators in :mod:`devices.simulators` speak the
same bytes on a pseudo-terminal so tests and the demo run the real driver code.
"""
