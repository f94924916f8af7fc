"""Shared test set-up: Qt offscreen before any Qt import, a hall that is always open."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
