"""``hall-agent demo --screenshots DIR``: the scripted flow on simulated devices, every screen
saved in Chinese and English."""

from __future__ import annotations

import argparse

from PySide6.QtGui import QImage

from ui.app import SIZES, run_demo

SCREENS = (
    "kiosk-home", "kiosk-ticket", "kiosk-printer-failure", "kiosk-guide", "kiosk-invalid-qr",
    "kiosk-bundle-ticket", "kiosk-closed",
    "window-1", "window-2", "window-3", "display",
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
