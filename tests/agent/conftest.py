from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agent.config import HallConfig, always_open, sample_config
from agent.store import Store

START = dt.datetime(2026, 6, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai, a Monday


class FakeClock:
    """A clock tests move by hand; it can also jump backwards."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def hall() -> HallConfig:
    return always_open(sample_config())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, hall: HallConfig, clock: FakeClock) -> Iterator[Store]:
    s = Store(tmp_path / "hall.db", "node-1", hall, clock)
    yield s
    s.close()


def write_hall(path: Path, config: HallConfig) -> Path:
    path.write_text(
        yaml.safe_dump(config.model_dump(mode="json"), allow_unicode=True), encoding="utf-8"
    )
    return path


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised data dir of the always-open sample hall, as $HALL_AGENT_DATA_DIR."""
    from agent.cli import main

    root = tmp_path / "node"
    monkeypatch.setenv("HALL_AGENT_DATA_DIR", str(root))
    config = write_hall(tmp_path / "hall.yaml", always_open(sample_config()))
    assert main(["init", "--config", str(config)]) == 0
    return root
