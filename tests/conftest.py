"""Shared test set-up: Qt offscreen before any Qt import, a hall that is always open."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import SmallDisk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 4 MB tmpfs in the test's folder; the test is skipped where mounting is not allowed."""
    disk = SmallDisk(tmp_path / "small-disk")
    if not disk.mount():
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield disk
    finally:
        disk.unmount()
