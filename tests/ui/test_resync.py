"""Screens survive a core that cannot be reached: no exception escapes a Qt slot, a
translated banner says so, and the screen reads again when the core is back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync.lan import HubUnreachable
from tests.ui.conftest import open_node
from ui.core import LocalCore
from ui.i18n import Languages
from ui.presenters.base import Presenter
from ui.presenters.display import DisplayPresenter
from ui.views.display import HallDisplayView


class FlakyCore(LocalCore):
    """A core whose reads fail like a hub on the other side of a broken LAN."""

    down = False

    def query(self, name: str, **args: Any) -> Any:
        if self.down:
            raise HubUnreachable("no reply from the hub within 5 s")
        return super().query(name, **args)

    def config(self) -> Any:
        if self.down:
            raise HubUnreachable("no reply from the hub within 5 s")
        return super().config()


def test_an_unreachable_hub_shows_a_banner_and_the_screen_recovers(tmp_path: Path, qtbot):
    """GIVEN a hall display WHEN reads fail (hub unreachable) THEN refresh does not raise and
    the banner shows; WHEN the core says resync and reads work THEN the banner goes and the
    display is redrawn."""
    runtime = open_node(tmp_path / "hall").runtime().start()
    core = FlakyCore(runtime)
    presenter = DisplayPresenter(core, Languages("en"))
    view = HallDisplayView(presenter)
    qtbot.addWidget(view)
    try:
        core.down = True
        presenter.refresh()  # a Qt slot: raising here would be lost in Qt's event loop
        assert not view.hub_problem.isHidden()
        assert "hall system" in view.hub_problem.text()
        core.down = False
        with qtbot.waitSignal(presenter.changed, timeout=2000):
            core.resync.emit()
        assert view.hub_problem.isHidden()
        assert presenter.problem == ""
    finally:
        core.close()
        runtime.stop()


def test_screens_read_again_now_and_then_without_events(tmp_path: Path, qtbot, monkeypatch):
    """GIVEN a display that misses every event WHEN the safety interval passes THEN it reads
    the hall anyway (30 s in service)."""
    assert Presenter.SAFETY_MS == 30_000
    monkeypatch.setattr(Presenter, "SAFETY_MS", 50)
    runtime = open_node(tmp_path / "hall").runtime().start()
    core = LocalCore(runtime)
    presenter = DisplayPresenter(core, Languages("en"))
    try:
        with qtbot.waitSignal(presenter.changed, timeout=2000):
            pass
    finally:
        core.close()
        runtime.stop()
