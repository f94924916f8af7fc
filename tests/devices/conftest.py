from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from devices.profiles import load_profile

SECRET = b"test-hall-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    yield
    leaked = [
        t.name
        for t in threading.enumerate()
        if t.name.startswith(("sim-", "device-")) and t.is_alive()
    ]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture
def secret() -> bytes:
    return SECRET


@pytest.fixture
def profile_80():
    return load_profile("escpos-80mm")


@pytest.fixture
def profile_58():
    return load_profile("escpos-58mm")
