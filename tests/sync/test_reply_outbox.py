"""Command replies wait on disk until the broker acknowledged them (no broker: the publish
is a stand-in whose acknowledgement the test decides; the MQTT path is in test_remote)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sync.remote import make_reply
from sync.reply_outbox import ReplyOutbox


@dataclass
class Info:
    acked: bool

    def is_published(self) -> bool:
        return self.acked


@dataclass
class Publisher:
    """Records each payload; the broker acknowledges it when ``acks`` is True."""

    acks: bool
    sent: list[str] = field(default_factory=list)

    def __call__(self, payload: str) -> Info:
        self.sent.append(payload)
        return Info(self.acks)


def test_a_reply_stays_stored_until_acknowledged_and_goes_out_again_after_a_lost_link(
    tmp_path: Path,
) -> None:
    outbox = ReplyOutbox(tmp_path / "pending")
    outbox.put(make_reply("n1", 7, "probe", "done", "printer: online"))
    outbox.put(make_reply("n1", 8, "reopen_devices", "failed", "not answering"))
    lost, acked = Publisher(acks=False), Publisher(acks=True)
    outbox.send(lost)
    assert len(lost.sent) == 2 and len(list(outbox.folder.glob("*.json"))) == 2
    outbox.requeue()  # the connection dropped before the PUBACKs
    outbox.send(acked)
    assert acked.sent == lost.sent  # the same replies, in the order they were made
    assert list(outbox.folder.glob("*.json")) == []


def test_replies_left_by_the_last_run_are_loaded_and_a_corrupt_one_dropped(
    tmp_path: Path,
) -> None:
    first = ReplyOutbox(tmp_path / "pending")
    first.put(make_reply("n1", 7, "probe", "done", "printer: online"))
    (first.folder / "0-9-done-1.json").write_text("{not json")
    again = ReplyOutbox(tmp_path / "pending")
    assert again.load() == 1
    assert not (first.folder / "0-9-done-1.json").exists()
    broker = Publisher(acks=True)
    again.send(broker)
    assert len(broker.sent) == 1 and '"version":7' in broker.sent[0]


@dataclass
class Refused:
    """What paho hands back for a publish it could not make (the link dropped meanwhile)."""

    def is_published(self) -> bool:
        raise RuntimeError("Message publish failed: The client is not currently connected.")


def test_a_publish_the_client_refused_is_kept_for_the_next_connection(tmp_path: Path) -> None:
    """GIVEN the link drops while replies go out (paho refuses the publish) WHEN the outbox
    sends and settles THEN nothing raises (the sync thread lives on) and the replies go out
    on the next connection."""
    outbox = ReplyOutbox(tmp_path / "pending")
    outbox.put(make_reply("n1", 7, "probe", "done", "printer: online"))
    outbox.put(make_reply("n1", 8, "probe", "done", "printer: online"))
    tried: list[str] = []

    def refused(payload: str) -> Refused:
        tried.append(payload)
        return Refused()

    outbox.send(refused)
    assert len(tried) == 1  # no more tried on a dead link
    outbox.requeue()
    broker = Publisher(acks=True)
    outbox.send(broker)
    assert sorted('"version":7' in p for p in broker.sent) == [False, True]
    assert list(outbox.folder.glob("*.json")) == []
