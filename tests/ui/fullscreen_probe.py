"""Run under a real X server by test_fullscreen.py: open the kiosk of a fresh hall the way
``hall-agent run --fullscreen`` does and print where it ended up, as JSON."""

from __future__ import annotations

import json
import sys
import tempfile
import time

from PySide6.QtGui import QGuiApplication

from ui.app import HallApp, make_qt_app, open_demo_node, show_full_screen
from ui.core import LocalCore
from ui.fit import misfits
from ui.ports import FakeDevices


def main() -> int:
    qt = make_qt_app()
    node = open_demo_node(tempfile.mkdtemp(prefix="fullscreen-"))
    runtime = node.runtime().start()
    app = HallApp(node, LocalCore(runtime), FakeDevices(), "zh_CN", ("kiosk",), voice="silent")
    view = app.kiosk_view
    assert view is not None
    show_full_screen(view)
    deadline = time.monotonic() + 3
    screen = QGuiApplication.primaryScreen().geometry()
    while time.monotonic() < deadline and view.geometry() != screen:
        qt.processEvents()
        time.sleep(0.02)
    for _ in range(20):
        qt.processEvents()
        time.sleep(0.01)
    geometry = view.geometry()
    print(json.dumps({
        "screen": [screen.x(), screen.y(), screen.width(), screen.height()],
        "window": [geometry.x(), geometry.y(), geometry.width(), geometry.height()],
        "misfits": misfits(view),
    }), flush=True)  # fmt: skip
    app.close()
    app.core.close()
    runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
