"""Helpers every test folder shares: poll a condition with a deadline instead of sleeping;
a small disk to fill."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    """True as soon as ``predicate()`` holds; its last value once ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class SmallDisk:
    """A tmpfs of a few MB mounted in a test's folder (root only), to fill up for real."""

    def __init__(self, path: Path, size_kb: int = 4096) -> None:
        self.path = path
        self.size_kb = size_kb
        self.fillers: list[Path] = []

    def mount(self) -> bool:
        self.path.mkdir(parents=True, exist_ok=True)
        command = ["mount", "-t", "tmpfs", "-o", f"size={self.size_kb}k", "tmpfs", str(self.path)]
        try:
            done = subprocess.run(command, capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def read_only(self) -> None:
        command = ["mount", "-o", "remount,ro", str(self.path)]
        subprocess.run(command, capture_output=True, timeout=30, check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=30)

    def fill(self, leave_bytes: int = 0) -> None:
        """Write a filler file until the disk is full (or only ``leave_bytes`` are left)."""
        filler = self.path / f"filler-{len(self.fillers)}"
        self.fillers.append(filler)
        with filler.open("wb", buffering=0) as handle:
            for chunk in (65536, 4096):
                try:
                    while self.free() - chunk >= leave_bytes:
                        handle.write(b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def make_room(self) -> None:
        for filler in self.fillers:
            filler.unlink()
        self.fillers.clear()


def set_node_field(data_root: Path, key: str, value: object) -> None:
    """Change one field of a data dir's node.yaml (as an operator would)."""
    path = data_root / "node.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data[key] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
