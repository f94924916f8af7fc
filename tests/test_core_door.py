"""Only agent/ reaches the store: sync/, ui/ and devices/ go through the core's typed entry
points, never its connection and never code of their own on the core thread."""

from __future__ import annotations

import ast
import inspect
import typing
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.runtime import CoreRuntime

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("sync", "ui", "devices")
#: The reference central ingest keeps its own database (the central side, not a node store).
OWN_DATABASE = {Path("sync/central.py")}
#: The runtime's way to run any function on the core thread; agent/ only.
PRIVATE_DOOR = {"_call", "_query", "_run_job"}


def door_violations(source: str, own_database: bool = False) -> list[str]:
    """What in ``source`` reaches past the core's typed entry points, one line each."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute):
            if node.attr in PRIVATE_DOOR:
                found.append(f"{line}: .{node.attr} runs code of its own on the core thread")
            if node.attr == "conn" and not own_database:
                found.append(f"{line}: .conn touches a store connection")
            if (
                node.attr == "connect"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sqlite3"
                and not own_database
            ):
                found.append(f"{line}: sqlite3.connect opens a database")
        elif isinstance(node, ast.ImportFrom) and node.module == "agent.store":
            for alias in node.names:
                if alias.name == "connect" and not own_database:
                    found.append(f"{line}: agent.store.connect opens the store")
    return found


def _modules() -> list[Path]:
    return sorted(p for package in SCANNED for p in (ROOT / package).rglob("*.py"))


def test_nothing_outside_agent_reaches_the_store_or_the_core_thread() -> None:
    assert len(_modules()) > 20  # the scan sees the packages
    found = {
        str(path.relative_to(ROOT)): problems
        for path in _modules()
        if (
            problems := door_violations(
                path.read_text(encoding="utf-8"), path.relative_to(ROOT) in OWN_DATABASE
            )
        )
    }
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        "runtime._call(lambda s: s.conn.execute('DELETE FROM events'))",
        "core.runtime._query(lambda s: s.state)",
        "rows = store.conn.execute('SELECT 1')",
        "import sqlite3\nsqlite3.connect('hall.db')",
        "from agent.store import connect",
    ],
)
def test_the_scan_catches_each_way_past_the_door(source: str) -> None:
    assert door_violations(source)


def _takes_a_callable(hint: object) -> bool:
    if typing.get_origin(hint) is Callable or hint is Callable:
        return True
    return any(_takes_a_callable(arg) for arg in typing.get_args(hint))


def test_the_runtime_s_public_entry_points_take_no_code() -> None:
    """Only ``subscribe`` takes a function (it runs on the core thread, handing events on)."""
    public = {
        name: fn
        for name, fn in inspect.getmembers(CoreRuntime, inspect.isfunction)
        if not name.startswith("_")
    }
    assert {"execute", "submit", "submit_report", "read", "advance_watermark"} <= set(public)
    taking_code = {
        name
        for name, fn in public.items()
        if any(
            _takes_a_callable(hint)
            for param, hint in typing.get_type_hints(fn).items()
            if param != "return"
        )
    }
    assert taking_code == {"subscribe"}
