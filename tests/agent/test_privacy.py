"""Masking, hashing and the hall secret."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.privacy import (
    citizen_hash,
    is_masked_name,
    load_or_create_secret,
    mask_id_number,
    mask_name,
)


def test_masks_keep_only_what_may_be_shown() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_name("张三丰") == "张**"
    assert mask_name("John Smith") == "J. S."


def test_the_same_number_hashes_alike_only_under_the_same_secret() -> None:
    a, b = b"a" * 32, b"b" * 32
    assert citizen_hash(a, "11010519491231002x") == citizen_hash(a, "11010519491231002X")
    assert citizen_hash(a, "11010519491231002X") != citizen_hash(b, "11010519491231002X")


def test_processes_starting_together_agree_on_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "node" / "secret.key"
    got: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: got.append(load_or_create_secret(path))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and len(got[0]) == 32
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "name", ["张三", "欧阳娜娜", "John Smith", "阿卜杜·热合曼·买买提·艾力·阿不都热西提"]
)
def test_what_mask_name_gives_is_a_masked_name(name: str) -> None:
    assert is_masked_name(mask_name(name))


@pytest.mark.parametrize(
    "text", ["张三", "110105199001011234", "11010519900101123X", "1**", "*", "John", "张* "]
)
def test_a_full_name_or_id_number_is_not_a_masked_name(text: str) -> None:
    assert not is_masked_name(text)
