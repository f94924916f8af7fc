"""Alarms as the screens show them: which concern a window, and their translated lines."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication

from agent.config import HallConfig
from ui.messages import fill, score_text


def concerns_window(alarm: dict[str, Any], window: int, services: list[str]) -> bool:
    """A window's own alarms (idle, bad rating there) and those of the services it serves."""
    if alarm.get("window") is not None:
        return bool(alarm["window"] == window)
    return alarm.get("service") in services


def alarm_lines(alarms: list[dict[str, Any]], config: HallConfig, pick: Any) -> tuple[str, ...]:
    """One translated line per alarm, in the order raised."""
    names = {s.code: pick(s.name_zh, s.name_en) for s in config.services}
    return tuple(alarm_text(alarm, names) for alarm in alarms)


def alarm_text(alarm: dict[str, Any], service_names: dict[str, str]) -> str:
    kind = alarm["kind"]
    values = {
        "service": service_names.get(alarm.get("service") or "", alarm.get("service") or ""),
        "window": alarm.get("window"),
        "number": alarm.get("number"),
        "value": _number(alarm.get("value")),
        "threshold": _number(alarm.get("threshold")),
    }
    texts = {
        "waiting_count": QCoreApplication.translate(
            "Alarm", "Alarm: {value} waiting for {service} (limit {threshold})"
        ),
        "longest_wait": QCoreApplication.translate(
            "Alarm", "Alarm: {number} has waited {value} min for {service}"
        ),
        "window_idle": QCoreApplication.translate(
            "Alarm", "Alarm: window {window} has called nobody for {value} min while people wait"
        ),
        "bad_rating": QCoreApplication.translate(
            "Alarm", "Alarm: {number} rated “{score}” at window {window}"
        ),
    }
    text = texts.get(kind) or QCoreApplication.translate("Alarm", "Alarm: {kind}")
    if kind == "bad_rating":
        values["score"] = score_text(int(alarm["value"]))
    values["kind"] = kind
    return fill(text, **values)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
    return "" if value is None else str(value)
