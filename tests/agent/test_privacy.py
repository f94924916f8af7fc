"""Masking, hashing and the hall secret."""

from __future__ import annotations

import threading
from pathlib import Path

from agent.privacy import citizen_hash, load_or_create_secret, mask_id_number, mask_name


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
