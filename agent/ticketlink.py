"""The signed ticket link: the URL a slip's QR carries.

A citizen's phone opens it (central answers with the ticket's progress), a kiosk reads it
back, a rating page takes it. It names hall, node, business day and number, and carries an
Ed25519 signature by the node's key (agent/nodekey.py) over exactly those, so central and
the hub can tell a slip the hall printed from one somebody typed. The link holds no
personal data. ``purpose`` separates a progress link from a rating link: one cannot be
turned into the other.

    https://zwfw.example.gov.cn/hall/t?v=1&p=t&h=HALL&n=NODE&d=2026-11-29&t=A001&s=SIG

``s`` is the signature in unpadded URL-safe base64 over :func:`statement`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = "1"
#: What a link is for: ``t`` a ticket's progress, ``r`` rating that visit.
PURPOSES = frozenset({"t", "r"})
MAX_LINK_LENGTH = 512
_HALL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # as agent.config.HallConfig.hall_id
_NUMBER = re.compile(r"^[A-Z]{1,2}[0-9]{1,4}$")
_SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{86}$")  # 64 bytes, unpadded base64url


class LinkError(ValueError):
    """A text that is not a well-formed ticket link (the reason says which part)."""


@dataclass(frozen=True)
class TicketLink:
    hall_id: str
    node_id: str
    business_date: str  # ISO date
    number: str
    purpose: str = "t"
    signature: str = ""

    def statement(self) -> bytes:
        return statement(self.purpose, self.hall_id, self.node_id, self.business_date, self.number)


def statement(purpose: str, hall_id: str, node_id: str, business_date: str, number: str) -> bytes:
    """The exact bytes signed: one field per line after a versioned tag."""
    tag = f"hall-agent ticket-link v{VERSION}"
    return "\n".join((tag, purpose, hall_id, node_id, business_date, number)).encode("utf-8")


def make(
    base: str,
    key: Ed25519PrivateKey,
    hall_id: str,
    node_id: str,
    business_date: str,
    number: str,
    purpose: str = "t",
) -> str:
    """The signed URL for one ticket; ``base`` is the hall config's ``ticket_link_base``."""
    link = _checked(TicketLink(hall_id, node_id, business_date, number, purpose))
    signature = base64.urlsafe_b64encode(key.sign(link.statement())).rstrip(b"=").decode()
    query = urlencode(
        {
            "v": VERSION,
            "p": purpose,
            "h": hall_id,
            "n": node_id,
            "d": business_date,
            "t": number,
            "s": signature,
        }
    )
    return f"{base}{'&' if '?' in base else '?'}{query}"


def parse(text: str) -> TicketLink:
    """The link's fields, checked for form (not for its signature: see :func:`verify`)."""
    if len(text) > MAX_LINK_LENGTH or not text.isprintable():
        raise LinkError("not a ticket link: too long or not printable")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise LinkError("not a ticket link: malformed URL") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LinkError("not a ticket link: not an http(s) URL")
    try:
        fields = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True))
    except ValueError as exc:
        raise LinkError("not a ticket link: malformed query") from exc
    if fields.get("v") != VERSION:
        raise LinkError("not a ticket link of a known version")
    try:
        link = TicketLink(
            fields["h"], fields["n"], fields["d"], fields["t"], fields["p"], fields["s"]
        )
    except KeyError as exc:
        raise LinkError(f"ticket link without {exc.args[0]!r}") from exc
    if not _SIGNATURE.match(link.signature):
        raise LinkError("ticket link: malformed signature")
    return _checked(link)


def verify(link: TicketLink, public_key: Ed25519PublicKey) -> bool:
    """Whether the link was signed by the node holding this key."""
    try:
        raw = base64.urlsafe_b64decode(link.signature + "==")
        public_key.verify(raw, link.statement())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


class Signer:
    """Makes and checks this node's links: the hub's store holds one (agent.node_runtime)."""

    def __init__(self, key: Ed25519PrivateKey, node_id: str) -> None:
        self._key, self.node_id = key, node_id

    def link(self, base: str, hall_id: str, business_date: str, number: str, purpose: str) -> str:
        return make(base, self._key, hall_id, self.node_id, business_date, number, purpose)

    def mine(self, link: TicketLink) -> bool:
        """Whether this node signed the link."""
        return link.node_id == self.node_id and verify(link, self._key.public_key())


def _checked(link: TicketLink) -> TicketLink:
    if link.purpose not in PURPOSES:
        raise LinkError(f"ticket link: unknown purpose {link.purpose!r}")
    if not _HALL.match(link.hall_id):
        raise LinkError("ticket link: malformed hall id")
    if not 0 < len(link.node_id) <= 64 or not link.node_id.isprintable():
        raise LinkError("ticket link: malformed node id")
    if not _NUMBER.match(link.number):
        raise LinkError("ticket link: malformed ticket number")
    try:
        dt.date.fromisoformat(link.business_date)
    except ValueError as exc:
        raise LinkError("ticket link: malformed business date") from exc
    if len(link.business_date) != 10:
        raise LinkError("ticket link: malformed business date")
    return link
