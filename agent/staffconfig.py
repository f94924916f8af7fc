"""Who may sign in at a window, and why a window may pause: the ``staff`` section of hall.yaml.

It carries no secret: PIN and staff-card hashes live at the hub only (agent/staffauth.py), so
this section travels with the hall config to the terminals and to central like the rest.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.privacy import is_masked_name

STAFF_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StaffMember(_Strict):
    """A member of staff (工号): a masked name for screens, the windows they may sign in
    at (empty: any window)."""

    id: str = Field(pattern=STAFF_ID_PATTERN, description="工号")
    name: str = Field(default="", max_length=40, description="masked, e.g. 王*")
    windows: list[int] = Field(default_factory=list, max_length=999)

    @field_validator("name")
    @classmethod
    def _masked(cls, value: str) -> str:
        if not is_masked_name(value):
            raise ValueError("a staff name is kept masked (王*, J. S.), never in full")
        return value


class PauseReason(_Strict):
    """Why a window pauses (暂停服务): a stable code for reports, labels for the screens."""

    code: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    name_zh: str = Field(min_length=1, max_length=20)
    name_en: str = Field(min_length=1, max_length=40)


def _default_reasons() -> list[PauseReason]:
    return [
        PauseReason(code="break", name_zh="休息", name_en="Break"),
        PauseReason(code="meeting", name_zh="会议", name_en="Meeting"),
        PauseReason(code="back-office", name_zh="后台办理", name_en="Back-office work"),
        PauseReason(code="consult", name_zh="咨询协调", name_en="Consulting a colleague"),
        PauseReason(code="other", name_zh="其他", name_en="Other"),
    ]


class StaffRules(_Strict):
    """``members``: staff from the hall config (central may add a signed roster);
    ``pause_reasons``: the codes a window pauses with; ``sign_out_at``: when everyone still
    signed in is signed out (``HH:MM``; default: when the hall's last opening period of the
    day ends). A hall that lists no staff (here or in a roster) runs without sign-in."""

    members: list[StaffMember] = Field(default_factory=list, max_length=2000)
    pause_reasons: list[PauseReason] = Field(
        default_factory=_default_reasons, min_length=1, max_length=30
    )
    sign_out_at: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

    def member(self, staff_id: str) -> StaffMember | None:
        return next((m for m in self.members if m.id == staff_id), None)

    def pause_reason(self, code: str) -> PauseReason | None:
        return next((r for r in self.pause_reasons if r.code == code), None)

    def sign_out_time(self) -> dt.time | None:
        return dt.time.fromisoformat(self.sign_out_at) if self.sign_out_at else None
