"""``hall-agent recover``: rebuild this node's store from what central holds of its log.

An MQTT 5 request/response with the central platform: the node asks for its events after a
seq on ``.../node/<id>/recover`` (correlation data set) and central answers one page on
``.../node/<id>/recovered``; page after page until central's copy ends. The store side
(checking every chain link, the safe numbering offset) is agent/recovery.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from agent import chain as ch
from agent import nodekey
from agent import recovery as rc
from agent.errors import HallError
from agent.node import BrokerConfig
from agent.node_runtime import Node
from agent.store import META_CENTRAL_ACKED
from sync import contract as ct
from sync.mqtt import client_for, parse_broker_url

log = logging.getLogger(__name__)

PAGE_EVENTS = 500


class RecoveryFailed(HallError):
    code = "recovery_failed"


class CentralLog:
    """The node's own log as central holds it, read page by page over MQTT."""

    def __init__(self, node: Node, broker: BrokerConfig, timeout_s: float = 15.0) -> None:
        self.hall_id, self.node_id = node.hall.hall_id, node.node.node_id
        self.timeout_s = timeout_s
        self._pages: queue.Queue[tuple[bytes | None, bytes]] = queue.Queue()
        self._ready: queue.Queue[str | None] = queue.Queue()
        address = parse_broker_url(broker.url)
        self._client = client_for(broker, f"{self.node_id}-recover-{uuid.uuid4().hex[:6]}", address)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.connect_async(address.host, address.port, keepalive=30)
        self._client.loop_start()
        try:
            problem = self._ready.get(timeout=timeout_s)
        except queue.Empty:
            problem = f"no answer from the broker at {address} in {timeout_s:.0f} s"
        if problem is not None:
            self.close()
            raise RecoveryFailed(f"cannot reach central: {problem}")
        self.acked_seq = 0
        self.public_key: str | None = None

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            self._ready.put(f"the broker refused the connection: {reason}")
            return
        client.subscribe(ct.recovered_topic(self.hall_id, self.node_id), qos=1)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        failed = [r for r in reasons if r.is_failure]
        self._ready.put(f"subscription refused: {failed}" if failed else None)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._pages.put((getattr(msg.properties, "CorrelationData", None), bytes(msg.payload)))

    def page(self, after_seq: int) -> ct.RecoverPage:
        correlation = uuid.uuid4().bytes
        properties = Properties(PacketTypes.PUBLISH)
        properties.ResponseTopic = ct.recovered_topic(self.hall_id, self.node_id)
        properties.CorrelationData = correlation
        request = ct.RecoverRequest(
            schema_version=1, node_id=self.node_id, after_seq=after_seq, max_events=PAGE_EVENTS
        )
        self._client.publish(
            ct.recover_topic(self.hall_id, self.node_id),
            request.model_dump_json(),
            qos=1,
            properties=properties,
        )
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.timeout_s)
        while (left := (deadline - dt.datetime.now(dt.UTC)).total_seconds()) > 0:
            try:
                got, payload = self._pages.get(timeout=left)
            except queue.Empty:
                break
            if got != correlation:
                continue  # an answer to an earlier request of ours, or another's
            try:
                page = ct.RecoverPage.model_validate_json(payload)
            except ValidationError as exc:
                raise RecoveryFailed(f"central's answer is malformed: {exc}") from exc
            self.acked_seq, self.public_key = page.acked_seq, page.public_key
            return page
        raise RecoveryFailed(
            f"central did not answer the request for events after seq {after_seq} in "
            f"{self.timeout_s:.0f} s (is the central ingest running?)"
        )

    def rows(self) -> Iterator[ch.ChainRow]:
        """Every event central holds for this node, in seq order."""
        after = 0
        while True:
            page = self.page(after)
            for e in page.events:
                yield (e.seq, e.type, e.business_date, e.at, e.wall_time, e.payload, e.chain)
            if not page.events:
                return
            after = page.events[-1].seq


def recover(node: Node, broker: BrokerConfig) -> rc.Rebuilt:
    """Rebuild the node's store from central (see agent/recovery.py for the rules)."""
    now = dt.datetime.now(dt.UTC)
    remote = CentralLog(node, broker)
    try:
        first = remote.page(0)  # before anything is moved: is central there, does it know us?
        if first.acked_seq == 0:
            raise RecoveryFailed(
                f"central holds no events of node {node.node.node_id}: nothing to rebuild from"
            )
        mine = nodekey.public_key_text(nodekey.load_or_create(node.data.node_key))
        if first.public_key is not None and first.public_key != mine:
            log.error(
                "node_key.pem is not the key central knows for %s: put the old node_key.pem "
                "back, or central will refuse this node's new events",
                node.node.node_id,
            )
        seen, aside = rc.prepare(node.data, now)
        store = node.store()
        try:
            result = rc.rebuild(
                store,
                remote.rows(),
                remote.acked_seq,
                seen,
                {META_CENTRAL_ACKED: str(first.acked_seq)},
            )
        finally:
            store.close()
    finally:
        remote.close()
    result.set_aside = aside
    return result
