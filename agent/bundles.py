""" "One thing" bundles (一件事): one visit, one number, several services in a fixed order.

A bundle ticket is issued in the first service's number series; when a window finishes a
leg, the same ticket joins the next service's queue by itself (``BundleLegQueued``), with its
original issue time and priority class, like a transfer: a citizen on a bundle does not
queue again from the back. The last leg finished ends the visit.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_LEGS = 10


class Bundle(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name_zh: str = Field(min_length=1, max_length=40)
    name_en: str = Field(min_length=1, max_length=80)
    services: list[str] = Field(min_length=2, max_length=MAX_LEGS, description="in visit order")

    @field_validator("services")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a service appears twice in the bundle")
        return value

    @property
    def legs(self) -> int:
        return len(self.services)

    def after(self, step: int) -> str | None:
        """The service of the leg after ``step`` (1-based), None after the last."""
        return self.services[step] if step < len(self.services) else None
