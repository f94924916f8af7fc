"""A roster booked by ID number, turned into one a hall can match by card and never learn
the numbers from.

The booking system knows each citizen's ID number. Before anything is signed, central
replaces every ``id_number`` with the citizen's hash for the slot's day, made with the
hall's key exactly as the hall's card reader makes it (agent/privacy.py): the hub then
finds the booking of a swiped card without ever holding an ID number, and the hash says
nothing about any other day. No message, error or log here repeats a number.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from agent.privacy import citizen_hash, citizen_key
from sync.fleet.push import PushRefused

#: 18 characters (17 digits and a check digit or X), or the old 15 digits.
_ID_NUMBER = re.compile(r"^([0-9]{17}[0-9Xx]|[0-9]{15})$")


def has_id_numbers(data: Any) -> bool:
    """Whether a roster file names any citizen by ID number (it then needs the hall key)."""
    entries = data.get("entries") if isinstance(data, dict) else None
    return isinstance(entries, list) and any(
        isinstance(e, dict) and "id_number" in e for e in entries
    )


def hash_id_numbers(data: Any, hall_key: bytes, zone: ZoneInfo, source: str) -> dict[str, Any]:
    """A copy of the roster with each entry's ``id_number`` replaced by ``citizen_hash``: the
    hash of the slot's business day in the hall's time zone ``zone``. An entry with a
    malformed number or slot is refused by its position only."""
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise PushRefused(f"{source}: entries: a list of appointments is required", file=source)
    entries = []
    for index, entry in enumerate(data["entries"], start=1):
        if not isinstance(entry, dict) or "id_number" not in entry:
            entries.append(entry)
            continue
        entry = dict(entry)
        number = entry.pop("id_number")
        where = f"{source}: entries[{index}]"
        if not isinstance(number, str) or not _ID_NUMBER.match(number.strip()):
            raise PushRefused(f"{where}: id_number: not an ID card number", file=source)
        if entry.get("citizen_hash"):
            raise PushRefused(f"{where}: both id_number and citizen_hash", file=source)
        day = _slot_day(entry.get("slot_start"), zone, where, source)
        entry["citizen_hash"] = citizen_hash(citizen_key(hall_key, number), day)
        entries.append(entry)
    return {**data, "entries": entries}


def _slot_day(value: Any, zone: ZoneInfo, where: str, source: str) -> dt.date:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise PushRefused(f"{where}: slot_start: a date and time with its offset", file=source)
    return value.astimezone(zone).date()
