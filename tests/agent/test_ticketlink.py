"""The signed ticket link (agent/ticketlink.py): what a slip's QR carries."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import commands as c
from agent import ticketlink as tl
from agent.errors import BadTicketLink
from agent.runtime import CoreRuntime
from agent.store import Store
from agent.views import ticket_by_link, ticket_link

BASE = "https://zwfw.example.gov.cn/hall/t"
KEY = Ed25519PrivateKey.generate()


def _edit(link: str, **fields: str) -> str:
    """The link with some query fields replaced (what a forger would try)."""
    parts = urlsplit(link)
    query = dict(parse_qsl(parts.query)) | fields
    return parts._replace(query=urlencode(query)).geturl()


def test_a_link_round_trips_and_verifies():
    link = tl.make(BASE, KEY, "hall-1", "node-1", "2026-06-01", "A001")
    assert link.startswith(BASE + "?v=1&p=t&")
    parsed = tl.parse(link)
    assert (parsed.hall_id, parsed.node_id, parsed.business_date, parsed.number) == (
        "hall-1",
        "node-1",
        "2026-06-01",
        "A001",
    )
    assert tl.verify(parsed, KEY.public_key())
    assert not tl.verify(parsed, Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize(
    "field,value", [("t", "A002"), ("d", "2026-06-02"), ("h", "hall-2"), ("n", "node-2")]
)
def test_a_tampered_link_does_not_verify(field, value):
    link = tl.make(BASE, KEY, "hall-1", "node-1", "2026-06-01", "A001")
    assert not tl.verify(tl.parse(_edit(link, **{field: value})), KEY.public_key())


def test_a_progress_link_is_not_a_rating_link():
    link = tl.make(BASE, KEY, "hall-1", "node-1", "2026-06-01", "A001", purpose="t")
    as_rating = tl.parse(_edit(link, p="r"))
    assert not tl.verify(as_rating, KEY.public_key())


@pytest.mark.parametrize(
    "text",
    [
        "HT1:2026-06-01:A001",
        "ftp://x/?v=1",
        "http://[::1/t?v=1",  # urlsplit raises ValueError on an unclosed bracket
        "https://x/t?v=2&p=t&h=h&n=n&d=2026-06-01&t=A001&s=" + "A" * 86,
        "https://x/t?v=1&p=t&h=h&n=n&d=2026-06-01&t=A001",  # no signature
        "https://x/t?v=1&p=x&h=h&n=n&d=2026-06-01&t=A001&s=" + "A" * 86,
        "https://x/t?v=1&p=t&h=h&n=n&d=2026-13-01&t=A001&s=" + "A" * 86,
        "https://x/t?v=1&p=t&h=h&n=n&d=2026-06-01&t=../etc&s=" + "A" * 86,
        "https://x/t?v=1&p=t&h=h h&n=n&d=2026-06-01&t=A001&s=" + "A" * 86,
        "https://x/t?v=1&p=t&h=h&n=n&d=2026-06-01&t=A001&s=short",
        "https://x/t?" + "a=b&" * 200,
    ],
)
def test_a_malformed_link_is_refused_with_a_reason(text):
    with pytest.raises(tl.LinkError):
        tl.parse(text)


def _signed_store(store: Store) -> Store:
    store.config = store.config.model_copy(update={"ticket_link_base": BASE})
    store.link_signer = tl.Signer(KEY, store.node_id)
    return store


def test_the_hub_gives_an_issued_ticket_its_link_and_reads_it_back(tmp_path: Path, hall, clock):
    """GIVEN a hall config with a link base WHEN a kiosk issues a ticket THEN its view
    carries the signed link, and the hub reads that link back to the ticket's progress."""
    runtime = CoreRuntime(
        lambda: _signed_store(Store(tmp_path / "hall.db", "node-1", hall, clock))
    ).start()
    try:
        runtime.execute(c.IssueTicket("social-security"))
        view = runtime.submit_report(c.IssueTicket("social-security")).result(10).ticket
        assert view is not None and view["number"] == "A002"
        link = view["link"]
        assert tl.verify(tl.parse(link), KEY.public_key())
        progress = runtime.read("ticket_by_link", text=link)
        assert progress["number"] == "A002" and progress["people_ahead"] == 1
        assert runtime.read("ticket_link", number="A002") == link
    finally:
        runtime.stop()


def test_the_hub_refuses_links_it_did_not_sign_for_today(store: Store):
    _signed_store(store)
    store.execute(c.IssueTicket("social-security"))
    link = ticket_link(store, "A001")
    assert link is not None
    assert ticket_by_link(store, link)["number"] == "A001"
    other_day = tl.make(BASE, KEY, store.config.hall_id, "node-1", "2020-01-01", "A001")
    forged = tl.make(
        BASE,
        Ed25519PrivateKey.generate(),
        store.config.hall_id,
        "node-1",
        store.state.business_date,
        "A001",
    )
    rating = ticket_link(store, "A001", purpose="r")
    assert rating is not None
    for bad in (other_day, forged, _edit(link, t="A002"), rating, "https://x/t?v=1"):
        with pytest.raises(BadTicketLink):
            ticket_by_link(store, bad)


def test_no_link_without_a_base_in_the_hall_config(store: Store):
    store.link_signer = tl.Signer(KEY, store.node_id)
    store.execute(c.IssueTicket("social-security"))
    assert store.config.ticket_link_base is None
    assert ticket_link(store, "A001") is None


def test_the_link_base_must_be_a_short_http_url(hall):
    for bad in ("javascript:alert(1)", "https://x/#frag", "https://" + "x" * 120, "https://a b/"):
        with pytest.raises(ValueError):
            type(hall).model_validate(hall.model_dump() | {"ticket_link_base": bad})
