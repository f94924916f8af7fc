"""Numbering for large catalogues: prefixes of one or two capital letters, and kiosk
categories that must name real services."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent import commands as c
from agent.config import HallConfig, always_open, sample_config
from agent.store import Store
from tests.agent.conftest import FakeClock


def with_prefixes(*prefixes: str) -> HallConfig:
    base = sample_config()
    services = [
        s.model_copy(update={"prefix": p}) for s, p in zip(base.services, prefixes, strict=True)
    ]
    return HallConfig.model_validate(
        {**base.model_dump(), "services": [s.model_dump() for s in services]}
    )


def test_two_letter_prefixes_number_apart_from_one_letter(tmp_path: Path) -> None:
    hall = always_open(with_prefixes("A", "AB", "B", "ZZ"))
    store = Store(tmp_path / "hall.db", "node-1", hall, FakeClock())
    try:
        codes = [s.code for s in hall.services]
        numbers = [store.execute(c.IssueTicket(code)).ticket.number for code in codes]  # type: ignore[union-attr]
        assert numbers == ["A001", "AB001", "B001", "ZZ001"]
        assert store.state.ticket_by_number("AB001").service == codes[1]  # type: ignore[union-attr]
    finally:
        store.close()


@pytest.mark.parametrize("prefix", ["ABC", "a", "A1", "", "Ä"])
def test_a_prefix_is_one_or_two_capital_letters(prefix: str) -> None:
    with pytest.raises(ValidationError, match="prefix"):
        with_prefixes(prefix, "B", "C", "D")


def test_prefixes_stay_unique() -> None:
    with pytest.raises(ValidationError, match="'AB' repeats item 1"):
        with_prefixes("AB", "AB", "C", "D")


def test_categories_name_real_services() -> None:
    data = sample_config().model_dump()
    data["categories"] = [
        {"code": "people", "name_zh": "个人", "name_en": "People", "services": ["household"]}
    ]
    assert HallConfig.model_validate(data).categories[0].services == ["household"]
    data["categories"][0]["services"] = ["household", "nope"]
    with pytest.raises(ValidationError, match="unknown service"):
        HallConfig.model_validate(data)
