"""Read models of the queue for screens, the CLI and reports (no rules, only looking)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from agent import ticketlink
from agent.errors import BadCitizen, BadTicketLink
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
    members = store.engine.staff_members(state)
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
                "staff_id": live.staff,
                "staff_name": members.get(live.staff, {}).get("name") if live.staff else None,
                "pause_reason": live.pause_reason,
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
        "staffed": store.engine.staffed(state),
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


def ticket_link(store: Store, number: str, purpose: str = "t") -> str | None:
    """Today's signed link for a ticket (its slip's QR, or ``purpose="r"`` the window's rating
    QR); None when the hall config sets no ``ticket_link_base`` or there is no such ticket."""
    store.refresh()
    ticket = store.state.ticket_by_number(number.strip().upper())
    if ticket is None:
        return None
    return signed_link(store, ticket.business_date, ticket.number, purpose)


def signed_link(store: Store, business_date: str, number: str, purpose: str = "t") -> str | None:
    base, signer = store.config.ticket_link_base, store.link_signer
    if base is None or signer is None:
        return None
    return signer.link(base, store.config.hall_id, business_date, number, purpose)


def ticket_by_link(store: Store, text: str) -> dict[str, Any] | None:
    """The progress of the ticket a scanned slip link names: refused (``bad_ticket_link``)
    unless this hub signed it for a ticket of today in this hall."""
    try:
        link = ticketlink.parse(text)
    except ticketlink.LinkError as exc:
        raise BadTicketLink(str(exc)) from None
    if store.link_signer is None or not store.link_signer.mine(link):
        raise BadTicketLink("ticket link not signed by this hall's hub")
    if link.hall_id != store.config.hall_id or link.purpose != "t":
        raise BadTicketLink("ticket link of another hall or purpose")
    store.refresh()
    if link.business_date != store.state.business_date:
        raise BadTicketLink("ticket link of another day", business_date=link.business_date)
    return ticket_progress(store, link.number)


def rating_of_case(store: Store, case: str) -> dict[str, Any] | None:
    """What became of the rating a business system asked for with its 办件编号: ``rated``
    with the level and reasons, ``requested`` (today, not rated yet), or None (unknown)."""
    store.refresh()
    row = store.conn.execute(
        "SELECT number, service, window, score, at, reasons, channel, item_code, staff_id,"
        " indicators_version FROM evaluations WHERE case_no = ? ORDER BY at DESC LIMIT 1",
        (case,),
    ).fetchone()
    if row is not None:
        number, service, window, score, at, reasons, channel, item, staff, version = row
        return {
            "case": case,
            "state": "rated",
            "number": number,
            "service": service,
            "item_code": item,
            "window": window,
            "staff_id": staff,
            "level": score,
            "reasons": json.loads(reasons) if reasons else [],
            "indicators_version": version,
            "channel": channel,
            "at": at,
        }
    for ticket_id, asked in store.state.rating_cases.items():
        if asked == case:
            ticket = store.state.tickets[ticket_id]
            return {"case": case, "state": "requested", "number": ticket.number}
    return None


def booking_for_card(store: Store, citizen_hash: str) -> dict[str, Any] | None:
    """Today's appointment of the citizen whose card gave ``citizen_hash`` (the kiosk offers
    check-in when its status is ``open``); None without one. Neither the hash nor the
    check-in code is in the answer."""
    if not _HASH.fullmatch(citizen_hash):
        raise BadCitizen("citizen_hash: not a keyed hash")
    store.refresh()
    state = store.state
    found = store.engine.booking_for_card(state, citizen_hash, store.hall_now())
    if found is None:
        return None
    code, status = found
    entry = state.appointments[code]
    ticket = state.tickets.get(entry.get("ticket_id") or "")
    return {
        "service": entry["service"],
        "slot_start": entry["slot_start"],
        "slot_end": entry["slot_end"],
        "status": status,
        "number": ticket.number if ticket else None,
    }


_HASH = re.compile(r"[0-9a-f]{64}")


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
    "ticket_link": ticket_link,
    "ticket_by_link": ticket_by_link,
    "rating_of_case": rating_of_case,
    "booking_for_card": booking_for_card,
    "notices": active_notices,
    "config": _config,
    "now": _now,
    "device_states": device_states,
    "profile_versions": profile_versions,
}
