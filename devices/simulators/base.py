"""A device simulator on a pseudo-terminal: the driver opens the pty's path like a real port.

Each simulator runs one thread that reads what the host wrote (through the pty master),
hands it to :meth:`PtySimulator.on_data` and writes the answers back. ``unplug()`` closes
the pty (the driver sees the port disappear); ``replug()`` opens a new one. With ``link=``
the simulator keeps a stable symlink to the current pty, like udev's ``/dev/serial/by-id``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import tty
from pathlib import Path

log = logging.getLogger(__name__)


class PtySimulator:
    kind = "device"

    def __init__(self, link: str | Path | None = None) -> None:
        self._link = Path(link) if link else None
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._master = -1
        self._slave = -1
        self._pty_path = ""
        self.silent = False  # read and ignore everything, answer nothing
        self._thread: threading.Thread | None = None
        self._open_pty()

    # ----- pty plumbing
    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._pty_path = os.ttyname(slave)
        if self._link is not None:
            tmp = self._link.with_name(self._link.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self._pty_path)
            tmp.replace(self._link)

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1

    @property
    def port(self) -> str:
        """The path a driver opens: the stable link if there is one, else the pty."""
        return str(self._link) if self._link is not None else self._pty_path

    def start(self) -> PtySimulator:
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.unplug()

    def __enter__(self) -> PtySimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def unplug(self) -> None:
        """The device disappears: the pty closes under the driver."""
        with self._lock:
            self._close_pty()
        if self._link is not None:
            with contextlib.suppress(FileNotFoundError):
                self._link.unlink()

    def replug(self) -> None:
        """The device comes back (on a new pty; the link, if any, points to it)."""
        with self._lock:
            self._close_pty()
            self._open_pty()

    @property
    def plugged(self) -> bool:
        return self._master >= 0

    def send(self, data: bytes) -> None:
        """Bytes from the device to the host."""
        with self._write_lock:
            view = memoryview(data)
            while view:
                fd = self._master
                if fd < 0:
                    return
                try:
                    n = os.write(fd, view)
                except BlockingIOError:
                    select.select([], [fd], [], 0.05)
                    continue
                except OSError:
                    return
                view = view[n:]

    def _run(self) -> None:
        while not self._stop.is_set():
            fd = self._master
            if fd < 0:
                self._stop.wait(0.02)
                continue
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
            except (OSError, ValueError):
                self._stop.wait(0.02)
                continue
            if not ready:
                self.on_idle()
                continue
            try:
                data = os.read(fd, 4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                self._stop.wait(0.02)
                continue
            if not data:
                continue
            if self.silent:
                continue
            try:
                reply = self.on_data(data)
            except Exception:
                log.exception("%s simulator failed on input", self.kind)
                continue
            if reply:
                self.send(reply)

    # ----- hooks
    def on_data(self, data: bytes) -> bytes:
        """Answer bytes the host wrote; return the reply (may be empty)."""
        return b""

    def on_idle(self) -> None:
        """Called about every 50 ms when nothing arrived."""
        return None
