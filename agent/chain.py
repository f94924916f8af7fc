"""The event log's hash chain: every event's hash covers the one before it.

An event's ``chain`` text is ``<algorithm>:<hex digest>`` of its canonical bytes (the UTF-8
of the lines below joined by ``\\n``; the payload last, exactly as stored)::

    hall-chain/1
    <chain of the event before, or nothing for the node's first event>
    <node_id>
    <seq>
    <type>
    <business_date>
    <at>
    <wall_time>
    <payload JSON text>

Only the payload may hold a newline character, and it is the last line, so the bytes are
unambiguous. The algorithm is named in every event (``sha256`` by default; ``sm3`` where an
audit asks for the national standard), so a log may change algorithm between two events.
docs/topics.md repeats this definition for the central platform.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from hashlib import sha256

from agent.errors import StoreDamaged

CHAIN_VERSION = "hall-chain/1"
DEFAULT_ALGORITHM = "sha256"


def _sm3(data: bytes) -> str:
    # Imported on first use: most nodes chain with sha256, and every CLI start imports this.
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return "sm3:" + digest.finalize().hex()


def _sha256(data: bytes) -> str:
    return "sha256:" + sha256(data).hexdigest()


#: algorithm -> the chain text (``algorithm:hexdigest``) of canonical bytes.
ALGORITHMS: dict[str, Callable[[bytes], str]] = {"sha256": _sha256, "sm3": _sm3}


def canonical_bytes(
    prev: str,
    node_id: str,
    seq: int,
    type_: str,
    business_date: str,
    at: str,
    wall_time: str,
    payload: str,
) -> bytes:
    return (
        f"{CHAIN_VERSION}\n{prev}\n{node_id}\n{seq}\n{type_}\n{business_date}\n{at}\n"
        f"{wall_time}\n{payload}"
    ).encode()


def link(algorithm: str, data: bytes) -> str:
    """The chain text of one event from its canonical bytes: ``algorithm:hexdigest``."""
    return ALGORITHMS[algorithm](data)


#: A stored event row as the chain sees it: (seq, type, business_date, at, wall_time,
#: payload text, chain text).
ChainRow = tuple[int, str, str, str, str, str, str]


def check(node_id: str, prev: str, row: ChainRow) -> None:
    """Raise :class:`StoreDamaged` naming the seq when the row does not match its chain."""
    seq, type_, business_date, at, wall_time, payload, chain = row
    algorithm, _, _digest = chain.partition(":")
    if algorithm not in ALGORITHMS:
        raise StoreDamaged(
            f"event seq {seq} names no known hash algorithm ({chain[:16]!r})", seq=seq
        )
    data = canonical_bytes(prev, node_id, seq, type_, business_date, at, wall_time, payload)
    expected = link(algorithm, data)
    if chain != expected:
        raise StoreDamaged(
            f"event seq {seq} does not match its chain hash: the row was changed or damaged",
            seq=seq,
        )


def verify(node_id: str, prev: str, after: int, rows: Iterable[ChainRow]) -> tuple[int, str]:
    """Check consecutive rows following seq ``after`` whose chain is ``prev``; returns the
    last seq and chain checked. A gap or a changed row raises :class:`StoreDamaged`."""
    expected = after + 1
    for row in rows:
        if row[0] != expected:
            raise StoreDamaged(
                f"event seq {expected} is missing (the next stored is {row[0]})", seq=expected
            )
        check(node_id, prev, row)
        prev = row[6]
        expected += 1
    return expected - 1, prev


def head_statement(node_id: str, seq: int, chain: str) -> bytes:
    """What a node signs to vouch for its log up to ``seq``."""
    return f"hall-head/1\n{node_id}\n{seq}\n{chain}".encode()
