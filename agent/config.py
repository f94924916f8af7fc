"""The hall config: services, windows and the rules the queue follows.

Loaded from YAML and validated with pydantic at start-up; a bad file gives
``file: field: reason`` and nothing starts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.validation import load_model, read_yaml, validate_data

SAMPLE_CONFIG = "sample_town_hall.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpeningHours(_Strict):
    """Daily opening periods, e.g. ``["09:00-12:00", "13:30-17:00"]``; weekdays 1=Mon..7=Sun."""

    periods: list[str] = Field(default_factory=lambda: ["00:00-23:59"], min_length=1)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7], min_length=1)

    @field_validator("periods")
    @classmethod
    def _periods_are_ranges(cls, value: list[str]) -> list[str]:
        for period in value:
            start, _, end = period.partition("-")
            try:
                begin, finish = dt.time.fromisoformat(start), dt.time.fromisoformat(end)
            except ValueError as exc:
                raise ValueError(f"{period!r} is not HH:MM-HH:MM") from exc
            if begin >= finish:
                raise ValueError(f"{period!r} ends before it starts")
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays_in_range(cls, value: list[int]) -> list[int]:
        if any(day < 1 or day > 7 for day in value):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return value

    @cached_property
    def spans(self) -> list[tuple[dt.time, dt.time]]:
        pairs = (period.partition("-") for period in self.periods)
        return [(dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, _, b in pairs]

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
        _no_duplicates("services", codes, "code")
        _no_duplicates("services", [s.prefix for s in self.services], "prefix")
        _no_duplicates("windows", [w.number for w in self.windows], "number")
        known = set(codes)
        for window in self.windows:
            unknown = [code for code in window.services if code not in known]
            if unknown:
                raise ValueError(f"window {window.number} serves unknown service(s) {unknown}")
        _no_duplicates("categories", [k.code for k in self.categories], "code")
        for category in self.categories:
            unknown = [code for code in category.services if code not in known]
            if unknown:
                raise ValueError(f"category {category.code} names unknown service(s) {unknown}")
        served = {code for w in self.windows for code in w.services}
        orphans = [code for code in codes if code not in served]
        if orphans:
            raise ValueError(f"no window serves {orphans}")
        return self

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

    def windows_serving(self, code: str) -> list[int]:
        return [w.number for w in self.windows if code in w.services]


def _no_duplicates(where: str, values: Sequence[object], what: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{where}: duplicate {what} {value!r}")
        seen.add(value)


def load_hall_config(path: Path) -> HallConfig:
    return load_model(HallConfig, path)


def sample_config_text() -> str:
    return (resources.files("agent") / "data" / SAMPLE_CONFIG).read_text(encoding="utf-8")


def sample_config() -> HallConfig:
    source = resources.files("agent") / "data" / SAMPLE_CONFIG
    with resources.as_file(source) as path:
        return validate_data(HallConfig, read_yaml(path), f"<embedded {SAMPLE_CONFIG}>")


def always_open(config: HallConfig) -> HallConfig:
    """The same hall with every service open all day (the demo runs at any hour)."""
    services = [s.model_copy(update={"hours": OpeningHours()}) for s in config.services]
    return config.model_copy(update={"services": services})
