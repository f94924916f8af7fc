"""UI tests run offscreen: the platform is set before anything imports Qt."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agent.config import HallConfig, always_open
from agent.datadir import DataDir
from agent.node_runtime import Node
from sync.node_devices import DeviceHealth, WindowDevices, runtime_execute
from ui.app import HallApp, ScreenOptions
from ui.core import LocalCore, install_relay
from ui.fonts import setup_fonts
from ui.ports import FakeDevices


@pytest.fixture(scope="session", autouse=True)
def _fonts(qapp):
    setup_fonts(qapp)
    install_relay()  # as the app does: cyclic garbage is collected on this (the GUI) thread


@pytest.fixture(autouse=True)
def _garbage_on_the_gui_thread():
    """What a test left behind (screens, presenters and their timers) is freed here, on the
    GUI thread, not by a later collection on some worker thread."""
    yield
    gc.collect()


def open_node(
    root: Path,
    hall_changes: dict[str, object] | None = None,
    hall_config: HallConfig | None = None,
    **service_changes: object,
) -> Node:
    """A node in ``root`` with the sample hall (or ``hall_config``, then ``hall_changes``),
    open all day."""
    if hall_config is not None:
        config = root.with_suffix(".yaml")
        dumped = hall_config.model_dump(mode="json")
        config.write_text(yaml.safe_dump(dumped, allow_unicode=True), encoding="utf-8")
        DataDir(root).init(config)
    node = Node.open(root, init=True)
    hall = always_open(node.hall).model_copy(update=hall_changes or {})
    if service_changes:
        services = [s.model_copy(update=service_changes) for s in hall.services]
        hall = hall.model_copy(update={"services": services})
    return dataclasses.replace(node, hall=hall)


@pytest.fixture
def make_hall(tmp_path: Path, qtbot) -> Iterator:
    """Build a whole hall (core, fake devices driven as the node start-up drives them, all
    screens); stopped after the test."""
    made: list[tuple[HallApp, WindowDevices, DeviceHealth, object]] = []

    def build(
        language: str = "zh_CN",
        evaluator_windows: tuple[int, ...] = (1, 2, 3),
        printer: bool = True,
        rating_timeout: float = 5.0,
        hall_changes: dict[str, object] | None = None,
        hall_config: HallConfig | None = None,
        screen_options: ScreenOptions | None = None,
        **service_changes: object,
    ) -> HallApp:
        root = tmp_path / f"hall{len(made)}"
        node = open_node(root, hall_changes, hall_config, **service_changes)
        runtime = node.runtime().start()
        devices = FakeDevices(evaluator_windows=evaluator_windows, printer=printer)
        health = DeviceHealth([], runtime_execute(runtime))
        devices.status.connect(health)
        follower = WindowDevices(
            devices,
            runtime_execute(runtime),
            rating_timeout,
            indicators=lambda: node.hall.rating_indicators,
        )
        follower.on_rating(devices.rating_ended)
        runtime.subscribe(follower.follow_event)
        app = HallApp(
            node, LocalCore(runtime), devices, language, voice="silent",
            screen_options=screen_options,
        )  # fmt: skip
        for view in app.views().values():
            qtbot.addWidget(view)
        made.append((app, follower, health, runtime))
        return app

    yield build
    for app, follower, health, runtime in made:
        for number in app.windows:
            app.devices.press(number, None)  # release evaluator waits
        follower.close()
        health.close()
        app.close()
        app.core.close()
        runtime.stop()
