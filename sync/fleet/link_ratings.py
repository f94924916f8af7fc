"""Ratings submitted through a hall's signed rating link (the window's QR, purpose ``r``).

The citizen's phone opens the link; the rating page (the city's, in front of this) hands
central the link text, the level and any reasons. Central checks the link against the
public key of the node that signed it — the one it pinned from that node's first event
batch (sync/central.py) — and that the node belongs to the hall the link names, and keeps
the rating **once per ticket**: the table's key is the link's (hall, node, business day,
number), so a second submission (a reload, a replayed request, a second phone) is refused
with ``already_rated`` and changes nothing.

Decision: these ratings are stored at central, beside the events the halls send up; they
are not sent down to the hall's log (the hall is offline-first and the rating is for the
province's 好差评 system, which central forwards to). The export (``hall-agent central
ratings``) lists them with channel ``qr`` together with the halls' own. When the hall has
already recorded a rating of the ticket, a link rating is taken only to give the reasons of
a bad one recorded without a reason (a keys-only evaluator: the window offers the QR for
just this), at the same level; the record then says which rating it completes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent import ticketlink
from agent.errors import DomainError
from agent.ratings import LEVELS, NO_REASON, RatingIndicators, recorded_reasons
from sync.fleet.backend import CentralBackend

#: A link older than this many days rates nothing (好差评: rated after the handling).
MAX_AGE_DAYS = 30

TABLE = """
CREATE TABLE IF NOT EXISTS link_ratings (
    hall_id TEXT NOT NULL, node_id TEXT NOT NULL, business_date TEXT NOT NULL,
    number TEXT NOT NULL, level INTEGER NOT NULL, reasons TEXT NOT NULL,
    indicators_version TEXT, completes_seq BIGINT, submitted_at TEXT NOT NULL,
    PRIMARY KEY (hall_id, node_id, business_date, number)
)
"""
COLUMNS = (
    "hall_id",
    "node_id",
    "business_date",
    "number",
    "level",
    "reasons",
    "indicators_version",
    "completes_seq",
    "submitted_at",
)


class LinkRatingRefused(DomainError):
    """A rating through a link central does not keep; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def submit_link_rating(
    store: CentralBackend,
    text: str,
    level: int,
    reasons: tuple[str, ...] = (),
    now: dt.datetime | None = None,
    indicators: RatingIndicators | None = None,
) -> dict[str, Any]:
    """Verify the rating link ``text`` and keep its rating once; the stored record.

    Refusals (:class:`LinkRatingRefused`, nothing stored): ``bad_link`` (malformed, or not
    a rating link), ``unknown_node`` (central has no key for the signer, or it is another
    hall's), ``bad_signature`` (tampered), ``expired``, ``bad_rating`` (level, reasons),
    ``already_rated``.
    """
    now = now or dt.datetime.now(dt.UTC)
    indicators = indicators or RatingIndicators()
    try:
        link = ticketlink.parse(text)
    except ticketlink.LinkError as exc:
        raise LinkRatingRefused("bad_link", str(exc)) from None
    if link.purpose != "r":
        raise LinkRatingRefused("bad_link", "not a rating link (a progress link rates nothing)")
    key_text, hall_id = _node(store, link.node_id)
    if key_text is None or hall_id != link.hall_id:
        raise LinkRatingRefused("unknown_node", f"no node {link.node_id} of hall {link.hall_id}")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_text, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise LinkRatingRefused("unknown_node", "the node's key is unusable") from exc
    if not ticketlink.verify(link, key):
        raise LinkRatingRefused("bad_signature", "the link's signature does not hold")
    age = now.date() - dt.date.fromisoformat(link.business_date)
    if age > dt.timedelta(days=MAX_AGE_DAYS):
        raise LinkRatingRefused("expired", f"a link of {link.business_date} rates no more")
    if level not in LEVELS:
        raise LinkRatingRefused("bad_rating", f"level must be 1..5, not {level}")
    try:
        kept = recorded_reasons(level, reasons, indicators)
    except ValueError as exc:
        raise LinkRatingRefused("bad_rating", str(exc)) from None
    completes = _hall_rating(store, link)
    if completes is not None:
        _, hall_level, hall_reasons = completes
        if hall_reasons != [NO_REASON] or hall_level != level or kept == [NO_REASON]:
            raise LinkRatingRefused("already_rated", f"{link.number} is already rated")
    record = {
        "hall_id": link.hall_id,
        "node_id": link.node_id,
        "business_date": link.business_date,
        "number": link.number,
        "level": level,
        "reasons": kept,
        "indicators_version": indicators.version if kept else None,
        "completes_seq": completes[0] if completes else None,
        "submitted_at": now.isoformat(timespec="seconds"),
    }
    values = [json.dumps(v) if k == "reasons" else v for k, v in record.items()]
    marks = ", ".join("?" * len(COLUMNS))
    inserted = store.sql(
        f"INSERT INTO link_ratings ({', '.join(COLUMNS)}) VALUES ({marks}) ON CONFLICT DO NOTHING",
        values,
    ).rowcount
    if inserted != 1:
        raise LinkRatingRefused("already_rated", f"{link.number} was rated through its link")
    return record


def link_ratings(
    store: CentralBackend, hall_id: str, first_day: str, last_day: str
) -> list[dict[str, Any]]:
    """The link ratings of a hall's business days, oldest first."""
    rows = store.sql(
        f"SELECT {', '.join(COLUMNS)} FROM link_ratings WHERE hall_id = ? AND business_date "
        "BETWEEN ? AND ? ORDER BY business_date, submitted_at, number",
        (hall_id, first_day, last_day),
    ).fetchall()
    found = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    for record in found:
        record["reasons"] = json.loads(record["reasons"])
    return found


def _node(store: CentralBackend, node_id: str) -> tuple[str | None, str | None]:
    row = store.sql(
        "SELECT public_key, hall_id FROM nodes WHERE node_id = ?", (node_id,)
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _hall_rating(
    store: CentralBackend, link: ticketlink.TicketLink
) -> tuple[int, int, list[str]] | None:
    """The hall's own rating of the link's ticket, as central received it: (seq, level,
    reasons)."""
    rows = store.sql(
        "SELECT seq, payload FROM events WHERE node_id = ? AND business_date = ? "
        "AND type = 'EvaluationRecorded'",
        (link.node_id, link.business_date),
    ).fetchall()
    for seq, payload in rows:
        p = json.loads(payload)
        if p.get("number") == link.number:
            return int(seq), int(p["score"]), list(p.get("reasons") or [])
    return None
