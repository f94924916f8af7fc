"""The hall config: services, windows and the rules the queue follows.

Loaded from YAML and validated with pydantic at start-up; a bad file gives
``file: field: reason`` and nothing starts.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.alarms import AlarmRules
from agent.bundles import Bundle
from agent.calendar import HallCalendar
from agent.ratings import ITEM_CODE_PATTERN, RatingIndicators
from agent.staffconfig import StaffRules
from agent.validation import FieldError, load_model, read_yaml_document, validate_data

SAMPLE_CONFIG = "sample_town_hall.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock_time(text: str) -> dt.time:
    """``HH:MM``; ``24:00`` is the end of the day."""
    if text == "24:00":
        return dt.time.max
    return dt.time.fromisoformat(text)


class OpeningHours(_Strict):
    """Daily opening periods, e.g. ``["09:00-12:00", "13:30-17:00"]`` (``00:00-24:00`` is
    all day); weekdays 1=Mon..7=Sun. Periods may touch but not overlap."""

    periods: list[str] = Field(default_factory=lambda: ["00:00-24:00"], min_length=1)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7], min_length=1)

    @field_validator("periods")
    @classmethod
    def _periods_are_ranges(cls, value: list[str]) -> list[str]:
        spans: list[tuple[dt.time, dt.time, int]] = []
        for index, period in enumerate(value):
            start, dash, end = period.partition("-")
            if start == "24:00" or not dash:
                raise FieldError([index], f"{period!r} is not HH:MM-HH:MM")
            try:
                begin, finish = _clock_time(start), _clock_time(end)
            except ValueError as exc:
                raise FieldError([index], f"{period!r} is not HH:MM-HH:MM") from exc
            if begin >= finish:
                raise FieldError([index], f"{period!r} ends before it starts")
            spans.append((begin, finish, index))
        spans.sort()
        for (_, previous_end, first), (next_start, _, second) in itertools.pairwise(spans):
            if next_start < previous_end:
                ordered = sorted((first, second))
                later, other = value[ordered[1]], value[ordered[0]]
                how = "repeats" if later == other else "overlaps"
                raise FieldError([ordered[1]], f"{later!r} {how} {other!r}")
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays_in_range(cls, value: list[int]) -> list[int]:
        seen: set[int] = set()
        for index, day in enumerate(value):
            if day < 1 or day > 7:
                raise FieldError([index], "weekdays are 1 (Monday) to 7 (Sunday)")
            if day in seen:
                raise FieldError([index], f"weekday {day} is repeated")
            seen.add(day)
        return value

    @cached_property
    def spans(self) -> list[tuple[dt.time, dt.time]]:
        pairs = (period.partition("-") for period in self.periods)
        return [(_clock_time(a), _clock_time(b)) for a, _, b in pairs]

    def is_open(self, local: dt.datetime) -> bool:
        if local.isoweekday() not in self.weekdays:
            return False
        now = local.time()
        # A loop, not any(<generator>): a quarter of the time, on every ticket issued.
        for start, end in self.spans:  # noqa: SIM110
            if start <= now <= end:
                return True
        return False


class Guide(_Strict):
    """Service guide (办事指南): what to bring, and sample form images (样表)."""

    materials_zh: list[str] = Field(default_factory=list)
    materials_en: list[str] = Field(default_factory=list)
    time_limit_zh: str = ""
    time_limit_en: str = ""
    fee_zh: str = ""
    fee_en: str = ""
    sample_forms: list[str] = Field(default_factory=list, description="image files")


class Service(_Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name_zh: str = Field(min_length=1, max_length=40)
    name_en: str = Field(min_length=1, max_length=80)
    prefix: str = Field(
        pattern=r"^[A-Z]{1,2}$",
        description="ticket prefix: one or two capital letters (A001, AB001), read one by one",
    )
    daily_cap: int = Field(default=999, ge=1, le=9999)
    per_citizen_daily_limit: int = Field(default=3, ge=1, le=99)
    default_service_minutes: float = Field(default=8.0, gt=0, le=480)
    hours: OpeningHours = Field(default_factory=OpeningHours)
    guide: Guide = Field(default_factory=Guide)
    item_code: str | None = Field(
        default=None,
        pattern=ITEM_CODE_PATTERN,
        description="事项编码: the service item's code in the province's catalogue (ratings)",
    )


class Window(_Strict):
    number: int = Field(ge=1, le=999)
    name_zh: str = Field(min_length=1, max_length=40)
    name_en: str = Field(min_length=1, max_length=80)
    services: list[str] = Field(min_length=1, description="service codes, highest priority first")


class Category(_Strict):
    """A group of services on the kiosk (社保, 户籍…): a large hall's tiles by category."""

    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name_zh: str = Field(min_length=1, max_length=20)
    name_en: str = Field(min_length=1, max_length=40)
    services: list[str] = Field(min_length=1, description="service codes, in tile order")


class PriorityRules(_Strict):
    elderly_age: int = Field(default=70, ge=50, le=120)
    appointment_grace_minutes: int = Field(default=15, ge=0, le=240)

    def is_elderly(self, birth: dt.date, today: dt.date) -> bool:
        """Green channel by age, from the birth date on the ID card."""
        age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        return age >= self.elderly_age


class NoShowRules(_Strict):
    max_recalls: int = Field(default=2, ge=0, le=20, description="recalls before auto no-show")
    auto_minutes: float = Field(default=10, gt=0, le=240, description="called, not started")
    reactivate_within_calls: int = Field(default=10, ge=0, le=1000)


class DisplayRules(_Strict):
    show_masked_names: bool = False
    notice_zh: str = ""
    notice_en: str = ""


#: The hub's own login on the hall broker; no terminal may be called this.
HUB_LOGIN = "hub"


class Terminal(_Strict):
    """A PC on the hall LAN: its broker login (= ``id``), its role and, for a window PC,
    the windows it acts on. The hub authorises each request by it (docs/operator.md)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="its hall broker login")
    role: Literal["kiosk", "window", "display"]
    windows: list[int] = Field(default_factory=list, max_length=999)

    @model_validator(mode="after")
    def _windows_for_window_role(self) -> Terminal:
        if self.id == HUB_LOGIN:
            raise ValueError(f"{self.id!r} is the hub's own login")
        if self.role == "window" and not self.windows:
            raise ValueError(f"{self.id}: a window PC names its windows")
        if self.role != "window" and self.windows:
            raise ValueError(f"{self.id}: only a window PC has windows")
        return self


class HallConfig(_Strict):
    schema_version: Literal[1] = 1
    hall_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name_zh: str = Field(min_length=1, max_length=60)
    name_en: str = Field(min_length=1, max_length=120)
    level: Literal["city", "county", "town", "village"]
    timezone: str = "Asia/Shanghai"
    services: list[Service] = Field(min_length=1)
    windows: list[Window] = Field(min_length=1)
    categories: list[Category] = Field(default_factory=list, description="kiosk categories")
    priority: PriorityRules = Field(default_factory=PriorityRules)
    no_show: NoShowRules = Field(default_factory=NoShowRules)
    display: DisplayRules = Field(default_factory=DisplayRules)
    alarms: AlarmRules = Field(default_factory=AlarmRules)
    terminals: list[Terminal] = Field(
        default_factory=list, max_length=500, description="the PCs on the hall LAN"
    )
    calendar: HallCalendar = Field(default_factory=HallCalendar)
    bundles: list[Bundle] = Field(default_factory=list, description="one-thing visits")
    rating_indicators: RatingIndicators = Field(
        default_factory=RatingIndicators,
        description="the versioned reasons a rating of level 1-2 may name (agent/ratings.py)",
    )
    ticket_link_base: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s#]{1,100}$",
        description="URL the slip's signed QR link starts with (agent/ticketlink.py); "
        "unset: the slip's QR is read by the hall's kiosks only",
    )
    staff: StaffRules = Field(default_factory=StaffRules, description="sign-in and pauses")
    near_turn_ahead: int | None = Field(
        default=None,
        ge=0,
        le=50,
        description="a TicketNearTurn event (for a city's SMS/WeChat notice) when a waiting "
        "ticket first has at most this many people ahead; unset: none",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> HallConfig:
        codes = [s.code for s in self.services]
        _no_duplicates(("services",), codes, "code")
        _no_duplicates(("services",), [s.prefix for s in self.services], "prefix")
        _no_duplicates(("windows",), [w.number for w in self.windows], "number")
        known = set(codes)
        for index, window in enumerate(self.windows):
            _no_duplicates(("windows", index, "services"), window.services)
            for position, code in enumerate(window.services):
                if code not in known:
                    loc = ("windows", index, "services", position)
                    raise FieldError(loc, f"unknown service {code!r}")
        _no_duplicates(("categories",), [k.code for k in self.categories], "code")
        for index, category in enumerate(self.categories):
            for position, code in enumerate(category.services):
                if code not in known:
                    loc = ("categories", index, "services", position)
                    raise FieldError(loc, f"unknown service {code!r}")
        served = {code for w in self.windows for code in w.services}
        for index, code in enumerate(codes):
            if code not in served:
                raise FieldError(("services", index, "code"), f"no window serves {code!r}")
        if unknown := self.alarms.unknown_services(known):
            raise FieldError(("alarms", "waiting_count"), f"unknown service(s) {unknown}")
        _no_duplicates(("terminals",), [t.id for t in self.terminals], "id")
        staff = self.staff
        _no_duplicates(("staff", "members"), [m.id for m in staff.members], "id")
        _no_duplicates(("staff", "pause_reasons"), [r.code for r in staff.pause_reasons], "code")
        numbers = {w.number for w in self.windows}
        window_lists: list[tuple[tuple[str, ...], list[list[int]]]] = [
            (("terminals",), [t.windows for t in self.terminals]),
            (("staff", "members"), [m.windows for m in staff.members]),
        ]
        for where, lists in window_lists:
            for index, windows in enumerate(lists):
                for position, number in enumerate(windows):
                    if number not in numbers:
                        at: tuple[str | int, ...] = (*where, index, "windows", position)
                        raise FieldError(at, f"unknown window {number}")
        return self

    @model_validator(mode="after")
    def _calendar_and_bundles_resolve(self) -> HallConfig:
        known = {s.code for s in self.services}
        unknown = sorted(self.calendar.service_codes() - known)
        if unknown:
            raise FieldError(("calendar", "closures"), f"unknown service(s) {unknown}")
        _no_duplicates(("bundles",), [b.code for b in self.bundles], "code")
        for index, bundle in enumerate(self.bundles):
            if bundle.code in known:
                raise FieldError(("bundles", index, "code"), "already the code of a service")
            for position, code in enumerate(bundle.services):
                if code not in known:
                    loc = ("bundles", index, "services", position)
                    raise FieldError(loc, f"unknown service {code!r}")
        return self

    def terminal(self, terminal_id: str) -> Terminal | None:
        return self._terminal_by_id.get(terminal_id)

    @cached_property
    def _terminal_by_id(self) -> dict[str, Terminal]:
        return {t.id: t for t in self.terminals}

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _service_by_code(self) -> dict[str, Service]:
        return {s.code: s for s in self.services}

    @cached_property
    def _window_by_number(self) -> dict[int, Window]:
        return {w.number: w for w in self.windows}

    def service(self, code: str) -> Service | None:
        return self._service_by_code.get(code)

    def window(self, number: int) -> Window | None:
        return self._window_by_number.get(number)

    def bundle(self, code: str) -> Bundle | None:
        return next((b for b in self.bundles if b.code == code), None)

    def windows_serving(self, code: str) -> list[int]:
        return [w.number for w in self.windows if code in w.services]


def _no_duplicates(
    items: tuple[str | int, ...], values: Sequence[object], field: str | None = None
) -> None:
    """Refuse a value repeated in the list at ``items`` (``field`` of each item, if given)."""
    first: dict[object, int] = {}
    for index, value in enumerate(values):
        if value in first:
            loc = (*items, index) if field is None else (*items, index, field)
            raise FieldError(loc, f"{value!r} repeats item {first[value] + 1}")
        first[value] = index


def load_hall_config(path: Path) -> HallConfig:
    return load_model(HallConfig, path)


def sample_config_text() -> str:
    return (resources.files("agent") / "data" / SAMPLE_CONFIG).read_text(encoding="utf-8")


def sample_config() -> HallConfig:
    source = resources.files("agent") / "data" / SAMPLE_CONFIG
    with resources.as_file(source) as path:
        document = read_yaml_document(path)
    return validate_data(HallConfig, document.data, f"<embedded {SAMPLE_CONFIG}>", document.root)


def always_open(config: HallConfig) -> HallConfig:
    """The same hall with every service open all day, every day (the demo runs at any hour
    on any date: the calendar is left out too)."""
    services = [s.model_copy(update={"hours": OpeningHours()}) for s in config.services]
    return config.model_copy(update={"services": services, "calendar": HallCalendar()})
