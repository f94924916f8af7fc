"""Read models of the queue for screens, the CLI and reports (no rules, only looking)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from agent.model import TicketState, parse_time
from agent.store import PROFILE_SLOT_PREFIX, Store


def hall_status(store: Store) -> dict[str, Any]:
    """The hall at a glance: waiting per service, each window's status and current ticket."""
    store.refresh()
    state, config = store.state, store.config
    services = []
    now = store.hall_now()
    for service in config.services:
        opens = store.engine.next_opening(state, service, now)
        services.append(
            {
                "code": service.code,
                "name_zh": service.name_zh,
                "name_en": service.name_en,
                "prefix": service.prefix,
                "waiting": state.waiting_count(service.code),
                "issued": state.counters.get(service.code, 0),
                "daily_cap": service.daily_cap,
                "open_now": opens == now,
                "opens_at": opens.isoformat() if opens is not None else None,
                "closed_by": _closed_by(store, service.code, now),
                "windows": config.windows_serving(service.code),
            }
        )
    served: dict[int, int] = {}
    for ticket in state.tickets.values():
        if ticket.state is TicketState.DONE and ticket.window is not None:
            served[ticket.window] = served.get(ticket.window, 0) + 1
    bundles = [
        {"code": b.code, "name_zh": b.name_zh, "name_en": b.name_en, "services": b.services}
        for b in config.bundles
    ]
    windows = []
    for window in config.windows:
        live = state.windows[window.number]
        current = state.tickets[live.current] if live.current else None
        windows.append(
            {
                "number": window.number,
                "name_zh": window.name_zh,
                "name_en": window.name_en,
                "status": live.status.value,
                "current": current.number if current else None,
                "current_state": current.state.value if current else None,
                "current_service": current.service if current else None,
                "citizen_name": current.citizen_name if current else None,
                # when the current ticket was called, or its service started (a timer)
                "current_since": (current.started_at or current.called_at) if current else None,
                "served_today": served.get(window.number, 0),
                "current_view": store.ticket_view(current) if current else None,
                "waiting": sum(state.waiting_count(code) for code in window.services),
            }
        )
    recent = []
    for ticket_id in reversed(state.last_called):
        ticket = state.tickets[ticket_id]
        recent.append(
            {
                "number": ticket.number,
                "window": ticket.window,
                "service": ticket.service,
                "citizen_name": ticket.citizen_name,
            }
        )
    return {
        "hall": config.hall_id,
        "business_date": state.business_date,
        "services": services,
        "bundles": bundles,
        "windows": windows,
        "recent_calls": recent,
        "devices": {
            name: {"status": s, "reason": r, **state.device_where.get(name, {})}
            for name, (s, r) in state.devices.items()
        },
        "alarms": sorted(state.alarms.values(), key=lambda a: (a["at"], a["alarm"])),
    }


def device_states(store: Store) -> dict[str, dict[str, Any]]:
    """Each device's state, its reason and since when (hall time): what a node reports to
    the central platform's fleet view."""
    store.refresh()
    state = store.state
    rows: dict[str, dict[str, Any]] = {
        name: {"status": status, "reason": reason, "since": state.device_since.get(name)}
        for name, (status, reason) in sorted(state.devices.items())
    }
    for name, applied in state.device_profiles.items():
        if name in rows:  # the profile it was last re-opened with, and how that went
            rows[name]["profile"] = applied
    return rows


def profile_versions(store: Store) -> dict[str, int]:
    """The version of each device profile pushed from central and applied on this node."""
    return store.inbound_versions(PROFILE_SLOT_PREFIX)


def _closed_by(store: Store, service: str, now: dt.datetime) -> dict[str, str] | None:
    """The holiday or closure that closes a service today (its names), if any."""
    span = store.engine.calendar(store.state).closed_by(service, now.date())
    return None if span is None else {"name_zh": span.name_zh, "name_en": span.name_en}


def waiting_list(store: Store, window: int, limit: int = 50) -> list[dict[str, Any]]:
    """Tickets waiting for a window's services, in the order the window would call them."""
    store.refresh()
    services = store.engine.window_services(window)
    now = store.hall_now()
    tickets = [
        t
        for t in store.state.tickets.values()
        if t.state is TicketState.WAITING and t.service in services
    ]
    tickets.sort(key=lambda t: store.engine.call_order_key(t, services, now))
    return [
        {
            "number": t.number,
            "service": t.service,
            "priority": t.priority.value,
            "issued_at": t.issued_at,
            "citizen_name": t.citizen_name,
            "bundle_leg": t.bundle_leg,  # set for a "one thing" bundle's ticket
        }
        for t in tickets[:limit]
    ]


def ticket_progress(store: Store, number: str) -> dict[str, Any] | None:
    """Today's ticket with this number (its latest leg), as a citizen sees it."""
    store.refresh()
    ticket = store.state.ticket_by_number(number.strip().upper())
    return None if ticket is None else store.ticket_view(ticket)


def active_notices(store: Store) -> list[dict[str, Any]]:
    """Notices published through the log (from the central platform), oldest first."""
    store.refresh()
    now = store.hall_now()
    live = [
        n
        for n in store.state.notices.values()
        if not n.get("expires_at") or parse_time(n["expires_at"]) > now
    ]
    return sorted(live, key=lambda n: n.get("at") or "")


def _config(store: Store) -> dict[str, Any]:
    return store.config.model_dump(mode="json")


def _now(store: Store) -> str:
    return store.hall_now().isoformat()


#: The reads a terminal may ask of the hub, by name (locally and over the hall LAN).
QUERIES: dict[str, Callable[..., Any]] = {
    "hall_status": hall_status,
    "waiting_list": waiting_list,
    "ticket": ticket_progress,
    "notices": active_notices,
    "config": _config,
    "now": _now,
    "device_states": device_states,
    "profile_versions": profile_versions,
}
