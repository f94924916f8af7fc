"""``hall-agent demo --screenshots DIR``: the scripted flow on simulated devices, every screen
saved in Chinese and English."""

from __future__ import annotations

import argparse

from PySide6.QtGui import QImage

from ui.app import SIZES, run_demo

SCREENS = (
    "kiosk-home", "kiosk-ticket", "kiosk-printer-failure", "kiosk-guide", "kiosk-invalid-qr",
    "kiosk-bundle-ticket", "kiosk-closed",
    "window-1", "window-2", "window-3", "display", "window-2-bad-rating",
)  # fmt: skip


def test_demo_screenshots(tmp_path):
    shots = tmp_path / "shots"
    args = argparse.Namespace(
        data_dir=str(tmp_path / "data"), screenshots=str(shots), quit_after=None,
        lang="zh_CN", broker=None,
    )  # fmt: skip
    assert run_demo(args) == 0
    names = sorted(p.stem for p in shots.glob("*.png"))
    for language in ("zh_CN", "en"):
        for screen in SCREENS:
            assert f"{screen}-{language}" in names
    for name, size in (
        ("kiosk-home-en", "kiosk"), ("kiosk-closed-en", "kiosk"), ("display-zh_CN", "display"),
    ):  # fmt: skip
        image = QImage(str(shots / f"{name}.png"))
        assert (image.width(), image.height()) == SIZES[size]  # nothing pushed the screen wider


def test_the_interactive_demo_arranges_its_windows_on_the_screen():
    """The kiosk, display, window stations and simulator panel side by side, none off the
    screen and none on top of another, on a laptop and a full-HD screen."""
    from PySide6.QtCore import QRect

    from ui.app import demo_geometry

    for width, height in ((1366, 768), (1920, 1080), (1280, 1024)):
        places = {name: QRect(*rect) for name, rect in demo_geometry(width, height).items()}
        screen = QRect(0, 0, width, height)
        assert all(screen.contains(rect) for rect in places.values())
        rects = list(places.values())
        for i, first in enumerate(rects):
            assert all(not first.intersects(other) for other in rects[i + 1 :])
        kiosk = places["kiosk"]
        assert kiosk.height() > kiosk.width()  # the kiosk stays portrait
