"""Ratings as the national 好差评 scheme counts them (../shared/PROTOCOLS.md §6).

Five levels, the same everywhere: 非常满意 (5) … 非常不满意 (1). For the two lowest the
citizen may give reasons, chosen from a *versioned* indicator list that comes with the hall
config (a province's list: halls may not add or remove indicators locally). A bad rating
with no reason chosen (a keys-only evaluator, a citizen who skips the list) records the
code :data:`NO_REASON`, so "no reason given" is a fact in the log, not a missing field.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: level → (zh, en) name; 5 is best.
LEVEL_NAMES: dict[int, tuple[str, str]] = {
    5: ("非常满意", "Very satisfied"),
    4: ("满意", "Satisfied"),
    3: ("基本满意", "Basically satisfied"),
    2: ("不满意", "Dissatisfied"),
    1: ("非常不满意", "Very dissatisfied"),
}
LEVELS = (1, 2, 3, 4, 5)
BAD_LEVELS = (1, 2)
#: The reason code of a bad rating given without a reason.
NO_REASON = "no_reason_given"

Channel = Literal["evaluator", "qr", "kiosk", "window"]
CHANNELS: tuple[str, ...] = get_args(Channel)

#: 办件编号: the window's business system names its cases; printable ASCII, no spaces.
CASE_PATTERN = r"^[A-Za-z0-9_./:-]{1,64}$"
#: 事项编码: a service item's code in the province's catalogue.
ITEM_CODE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class Reason(BaseModel):
    """One second-level indicator a bad rating may name."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    zh: str = Field(min_length=1, max_length=20)
    en: str = Field(min_length=1, max_length=40)


def _offline_indicators() -> list[Reason]:
    # The offline (hall) second-level indicators named in the public 好差评 descriptions.
    return [
        Reason(code="efficiency", zh="服务效率", en="Service efficiency"),
        Reason(code="competence", zh="服务水平", en="Service competence"),
        Reason(code="attitude", zh="服务态度", en="Service attitude"),
    ]


class RatingIndicators(BaseModel):
    """The versioned list of reasons for levels 1–2 (hall.yaml ``rating_indicators``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(default="offline-2019.1", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    reasons: list[Reason] = Field(default_factory=_offline_indicators, min_length=1, max_length=16)

    @model_validator(mode="after")
    def _codes_unique(self) -> RatingIndicators:
        codes = [r.code for r in self.reasons]
        if len(set(codes)) != len(codes):
            raise ValueError("reason codes repeat")
        if NO_REASON in codes:
            raise ValueError(f"{NO_REASON!r} is reserved for a bad rating without a reason")
        return self

    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


def recorded_reasons(
    level: int, chosen: tuple[str, ...], indicators: RatingIndicators
) -> list[str]:
    """The reasons a rating of ``level`` records: none for levels 3–5, the chosen codes (in
    the list's order) for 1–2, or ``[NO_REASON]`` when none was chosen. ValueError names a
    code the list does not hold, or reasons given with a good level."""
    if level not in BAD_LEVELS:
        if chosen:
            raise ValueError(f"level {level} takes no reasons")
        return []
    known = indicators.codes()
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ValueError(f"reason(s) {unknown} not in indicator list {indicators.version}")
    picked = [code for code in known if code in chosen]
    return picked or [NO_REASON]
