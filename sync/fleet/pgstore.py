"""The central store on PostgreSQL (not written yet)."""

from __future__ import annotations

from typing import Any


class PgCentralStore:
    def __init__(self, url: str) -> None:
        raise NotImplementedError("PostgreSQL store: " + url)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)
