"""Ratings of a period as a province's 好差评 system takes them: one record per rating.

Read from the event log alone (a hub's store, or every node's events at central), plus, at
central, the ratings citizens gave through a hall's signed link (sync/fleet/link_ratings.py).
The fields are those the scheme ties a rating to (../shared/PROTOCOLS.md §6): hall, window
and staff; the service item (事项编码) and the case (办件编号); the level and, for levels 1–2,
the reasons of the versioned indicator list with its version; the channel. The columns are
documented in docs/operator.md ("Ratings").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from agent.model import Event
from agent.ratings import LEVEL_NAMES, NO_REASON

#: The columns of the CSV, in order (the JSON records carry the same keys; ``reasons`` is a
#: list there, ``;``-separated in the CSV).
COLUMNS = (
    "hall_id",
    "node_id",
    "seq",
    "business_date",
    "rated_at",
    "ticket",
    "service",
    "item_code",
    "case_no",
    "window",
    "staff_id",
    "level",
    "level_name",
    "reasons",
    "no_reason_given",
    "indicators_version",
    "channel",
    "completes_seq",
)


def rating_records(
    events: Iterable[Event], hall_id: str, link_ratings: Iterable[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """One record per ``EvaluationRecorded`` event, then one per link rating (channel
    ``qr``; ``completes_seq`` names the hall's rating whose reasons it gives)."""
    records = []
    for event in events:
        if event.type != "EvaluationRecorded":
            continue
        p = event.payload
        records.append(
            _record(
                hall_id,
                event.node_id,
                event.seq,
                event.business_date,
                p["at"],
                p["number"],
                p["score"],
                list(p.get("reasons") or []),
                service=p.get("service"),
                item_code=p.get("item_code"),
                case_no=p.get("case"),
                window=p.get("window"),
                staff_id=p.get("staff_id"),
                indicators_version=p.get("indicators_version"),
                channel=p.get("channel") or "evaluator",  # ratings before channels: the keys
            )
        )
    for r in link_ratings:
        records.append(
            _record(
                r["hall_id"],
                r["node_id"],
                None,
                r["business_date"],
                r["submitted_at"],
                r["number"],
                r["level"],
                list(r["reasons"]),
                indicators_version=r["indicators_version"],
                channel="qr",
                completes_seq=r["completes_seq"],
            )
        )
    return records


def _record(
    hall_id: str,
    node_id: str,
    seq: int | None,
    business_date: str,
    rated_at: str,
    ticket: str,
    level: int,
    reasons: list[str],
    **details: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(COLUMNS)
    given = [code for code in reasons if code != NO_REASON]
    record.update(
        hall_id=hall_id,
        node_id=node_id,
        seq=seq,
        business_date=business_date,
        rated_at=rated_at,
        ticket=ticket,
        level=level,
        level_name=LEVEL_NAMES[level][0],
        reasons=given,
        no_reason_given=NO_REASON in reasons,
        **details,
    )
    return record


def records_csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        row = dict(record)
        row["reasons"] = ";".join(record["reasons"])
        row["no_reason_given"] = int(record["no_reason_given"])
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
