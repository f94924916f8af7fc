"""systemd's service notification (``sd_notify``): ready, stopping, and the watchdog ping.

The protocol is one datagram to the socket named in ``$NOTIFY_SOCKET`` (written here in a
few lines: the pure-Python ``sdnotify`` package has not been released since 2017). Outside
systemd the variable is unset and every call does nothing. A unit with ``WatchdogSec=`` sets
``$WATCHDOG_USEC``; the agent pings at half that period, and only while its parts answer
(see :class:`sync.node.NodeMonitor`), so a hung core is restarted by systemd.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 10.0  # without a systemd watchdog: how often a change is looked for


class SystemdNotifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        # An abstract socket is written '@name' in the variable and '\0name' on the wire.
        self.address = "\0" + address[1:] if address and address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_s: float | None = int(usec) / 1_000_000 if usec.isdigit() else None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, state: str) -> bool:
        """Send ``state`` (``READY=1``, ``WATCHDOG=1``, ...); False when not under systemd."""
        if self.address is None:
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(state.encode(), self.address)
            except OSError as exc:  # systemd gone or restarting: the next ping retries
                log.warning("sd_notify %s failed: %s", state.split("=")[0], exc)
                return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify(f"READY=1\nSTATUS={status}")

    def ping(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")


class Heartbeat:
    """A loop's last sign of life (the core thread, the Qt event loop): ``beat()`` from the
    loop, ``fresh(age)`` from the watchdog's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = time.monotonic()

    def beat(self) -> None:
        with self._lock:
            self._at = time.monotonic()

    def fresh(self, max_age_s: float) -> bool:
        with self._lock:
            return time.monotonic() - self._at <= max_age_s


Check = Callable[[], bool]


class NodeMonitor:
    """Logs what the node runs at start and again whenever that changes, tells systemd it
    is ready, and feeds its watchdog while every check (core, screens, ...) answers."""

    def __init__(
        self,
        describe: Callable[[], dict[str, Any]],
        notifier: SystemdNotifier | None = None,
        interval_s: float | None = None,
    ) -> None:
        self.describe = describe
        self.notifier = notifier or SystemdNotifier()
        watchdog = self.notifier.watchdog_s
        self.interval_s = interval_s or (watchdog / 2 if watchdog else DEFAULT_INTERVAL_S)
        self.checks: dict[str, Check] = {}
        self._summary: dict[str, Any] | None = None
        self._failing: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_check(self, name: str, check: Check) -> None:
        self.checks[name] = check

    def start(self) -> NodeMonitor:
        self._log_summary("started")
        assert self._summary is not None
        self.notifier.ready(summary_line(self._summary))
        self._thread = threading.Thread(target=self._run, name="node-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.notifier.stopping()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.step()

    def step(self) -> bool:
        """One round: re-log the summary if it changed; ping when every check answers."""
        self._log_summary("changed")
        failing = [name for name, check in self.checks.items() if not check()]
        if failing != self._failing:
            if failing:
                log.warning("watchdog not fed: %s not answering", ", ".join(failing))
            else:
                log.info("watchdog fed again: every part answers")
            self._failing = failing
        return not failing and self.notifier.ping()

    def _log_summary(self, what: str) -> None:
        summary = self.describe()
        if summary == self._summary:
            return
        self._summary = summary
        log.info("hall-agent %s: %s", what, summary_line(summary), extra={"node": summary})


def summary_line(summary: dict[str, Any]) -> str:
    """One line for an installer: version, node, hall, role, data dir, devices, brokers."""
    devices = ", ".join(
        f"{d['id']} {d['kind']} at {d['port']}{'' if d['present'] is not False else ' (absent)'}"
        for d in summary["devices"]
    )
    brokers = ", ".join(f"{name} {url}" for name, url in summary["brokers"].items() if url)
    return (
        f"version {summary['version']}, node {summary['node_id']}, hall {summary['hall_id']}, "
        f"role {summary['role']}, data dir {summary['data_dir']}, "
        f"devices [{devices or 'none'}], brokers [{brokers or 'none: offline'}]"
    )
