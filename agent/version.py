"""The agent's version, as installed (the wheel's or the Debian package's metadata)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "hall-edge-agent"


def agent_version() -> str:
    """The installed version; ``0+unknown`` for a source tree that was never installed."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"
