"""A ticket's progress for a citizen's phone, and the "turn is near" feed, from central's store.

The slip's QR is the signed ticket link (agent/ticketlink.py). Central answers it from the
events the hall sent: it checks the signature with the public key the node's batches carry
(learnt from its first one), folds that node's events of the link's day through the same
``HallState`` the hub uses, and says how fresh the answer is — the hall's last event and,
when its status says it is offline, that the queue may have moved since.

``TicketNearTurn`` events (agent/engine.py) are served as a feed with a cursor for a city's
SMS/WeChat service: each node's events up to its acknowledged seq only, so an event that
central holds is never skipped by a cursor that moved past a gap.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent import ticketlink
from agent.model import Event, TicketState
from agent.state import HallState
from sync.fleet.backend import CentralBackend

log = logging.getLogger(__name__)

#: The states a phone is shown (a transferred leg is followed to the latest one).
SHOWN_STATES = {s.value for s in TicketState}
FEED_LIMIT = 500
#: How many business days back the feed looks.
FEED_DAYS = 2


class ProgressRefused(ValueError):
    """A link central does not answer; ``status`` is the HTTP status for it."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


@dataclass(frozen=True)
class Freshness:
    """How old the answer may be: the hall's last event central holds and its status."""

    hall_online: bool
    last_event_at: str | None  # hall time (ISO) of the node's last event of the day
    status_at: str | None  # when the node's status last changed (its clock)
    last_seen: str | None  # when central last heard from the node (central's clock)

    @property
    def stale(self) -> bool:
        return not self.hall_online


@dataclass(frozen=True)
class Progress:
    hall_id: str
    node_id: str
    business_date: str
    number: str
    found: bool
    expired: bool  # a ticket of a business day before the hall's current one
    service: str | None
    state: str | None
    people_ahead: int | None
    window: int | None  # where to go, while called or served
    freshness: Freshness

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["freshness"]["stale"] = self.freshness.stale
        return data


def ticket_progress(store: CentralBackend, link_text: str) -> Progress:
    """The progress of the ticket a slip link names, or :class:`ProgressRefused`."""
    try:
        link = ticketlink.parse(link_text)
    except ticketlink.LinkError as exc:
        raise ProgressRefused(400, "malformed_link", str(exc)) from None
    if link.purpose != "t":
        raise ProgressRefused(400, "wrong_purpose", "not a progress link")
    node = next((n for n in store.fleet_nodes() if n["node_id"] == link.node_id), None)
    key = store.public_key(link.node_id)
    if node is None or key is None or node["hall_id"] != link.hall_id:
        raise ProgressRefused(404, "unknown_hall", "central has no events of this hall yet")
    if not ticketlink.verify(link, _public_key(key)):
        raise ProgressRefused(403, "bad_signature", "the link's signature does not hold")
    events = [
        e for e in _day_events(store, link.hall_id, link.business_date) if e.node_id == link.node_id
    ]
    latest_day = _latest_day(store, link.hall_id, link.node_id, link.business_date)
    freshness = Freshness(
        hall_online=node["state"] == "online",
        last_event_at=events[-1].at if events else None,
        status_at=node["status_at"],
        last_seen=node["last_seen"],
    )
    state = _fold(link.business_date, events)
    ticket = state.ticket_by_number(link.number)
    at_window = ticket is not None and ticket.state in (TicketState.CALLED, TicketState.SERVING)
    return Progress(
        hall_id=link.hall_id,
        node_id=link.node_id,
        business_date=link.business_date,
        number=link.number,
        found=ticket is not None,
        expired=latest_day > link.business_date,
        service=ticket.service if ticket else None,
        state=ticket.state.value if ticket else None,
        people_ahead=state.people_ahead(ticket) if ticket else None,
        window=ticket.window if ticket and at_window else None,
        freshness=freshness,
    )


def _public_key(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as exc:  # (central stored it after checking it)
        raise ProgressRefused(404, "unknown_hall", "the node's key is not usable") from exc


def _day_events(store: CentralBackend, hall_id: str, day: str) -> list[Event]:
    return list(store.hall_events(hall_id, day, day))


def _latest_day(store: CentralBackend, hall_id: str, node_id: str, day: str) -> str:
    """The node's latest business day central holds events of (at least ``day``)."""
    row = store._execute(
        f"SELECT MAX({store.day_column}) FROM events WHERE node_id = ? AND hall_id = ?",
        (node_id, hall_id),
    ).fetchone()
    return max(day, str(row[0])) if row and row[0] is not None else day


def _fold(day: str, events: Iterable[Event]) -> HallState:
    """The hall's queue of ``day`` as the node's events build it (windows as they appear)."""
    events = list(events)
    windows = sorted({w for e in events if isinstance(w := e.payload.get("window"), int)})
    state = HallState(day, windows)
    for event in events:
        state.apply(event)
    return state


# ---- the near-turn feed ----------------------------------------------------------------------
def encode_cursor(positions: dict[str, int]) -> str:
    text = json.dumps(positions, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> dict[str, int]:
    """A cursor from :func:`near_turn_feed` (empty: from the start of the feed's days)."""
    if not cursor:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ProgressRefused(400, "bad_cursor", "not a cursor of this feed") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and type(v) is int for k, v in data.items()
    ):
        raise ProgressRefused(400, "bad_cursor", "not a cursor of this feed")
    return data


def near_turn_feed(
    store: CentralBackend, cursor: str, today: dt.date, limit: int = FEED_LIMIT
) -> dict[str, Any]:
    """``TicketNearTurn`` events after ``cursor``: ``{"events": [...], "cursor": next}``.

    Each node's events come in seq order and only up to the seq central holds without a
    gap, so a consumer that stores the returned cursor sees every event once (and again
    only if it replays an older cursor)."""
    positions = decode_cursor(cursor)
    since = (today - dt.timedelta(days=FEED_DAYS - 1)).isoformat()
    rows = store._execute(
        f"SELECT e.node_id, e.seq, e.hall_id, {store.day_column}, e.at, e.payload "
        "FROM events e JOIN nodes n ON n.node_id = e.node_id "
        "WHERE e.type = 'TicketNearTurn' AND e.business_date >= ? AND e.seq <= n.acked_seq "
        "ORDER BY e.node_id, e.seq",
        (since,),
    ).fetchall()
    events: list[dict[str, Any]] = []
    for node_id, seq, hall_id, day, at, payload in rows:
        if seq <= positions.get(node_id, 0) or len(events) >= limit:
            continue
        positions[node_id] = seq
        p = json.loads(payload)
        if not _near_turn_payload(p):  # a node's malformed event: skipped, the feed goes on
            log.warning("near-turn feed: %s seq %d: malformed payload, skipped", node_id, seq)
            continue
        events.append(
            {
                "hall_id": hall_id,
                "node_id": node_id,
                "seq": seq,
                "business_date": str(day),
                "number": p["number"],
                "service": p["service"],
                "people_ahead": p["ahead"],
                "at": at,
            }
        )
    return {"events": events, "cursor": encode_cursor(positions)}


def _near_turn_payload(p: Any) -> bool:
    return (
        isinstance(p.get("number"), str)
        and isinstance(p.get("service"), str)
        and isinstance(p.get("ahead"), int)
    )
