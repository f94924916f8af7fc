"""The fleet as Prometheus metrics, served by the central process for IT's dashboards.

Each scrape reads the store afresh (:class:`FleetCollector`), so the figures are those of
``hall-agent central report``: the same nodes, the same alarms, the same thresholds. Only the
ingest counters are this process's own.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from sync.fleet.config import CentralConfig
from sync.fleet.health import ALARM_KINDS, ROLLED_BACK, FleetSource, fleet_alarms, parse_time

log = logging.getLogger(__name__)

NODE = ["hall", "node"]


class FleetCollector(Collector):
    """Reads the fleet from a store opened per scrape (``open_source`` is a context manager
    factory), and the ingest counters from ``stats`` (a callable returning a dict)."""

    def __init__(
        self,
        open_source: Callable[[], AbstractContextManager[FleetSource]],
        config: CentralConfig,
        stats: Callable[[], dict[str, int]] | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.open_source = open_source
        self.config = config
        self.stats = stats
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        with self.open_source() as source:
            nodes = source.fleet_nodes()
            results = source.results(refused=True, limit=1000)
            counts = source.result_counts()
        yield from node_metrics(nodes)
        alarms = fleet_alarms(nodes, results, self.config.alarms, self.clock())
        by_kind = Counter(a.kind for a in alarms)
        total = GaugeMetricFamily(
            "hall_fleet_alarms", "Alarms open in the fleet, by kind", labels=["kind"]
        )
        for kind in ALARM_KINDS:
            total.add_metric([kind], by_kind[kind])
        yield total
        each = GaugeMetricFamily(
            "hall_fleet_alarm",
            "One open alarm (1) per kind, node and subject (device, node or topic)",
            labels=["kind", *NODE, "subject"],
        )
        for a in alarms:
            each.add_metric([a.kind, a.hall_id, a.node_id, a.subject], 1)
        yield each
        reported = CounterMetricFamily(
            "hall_node_results",
            "Results nodes reported for messages from central, by outcome and code",
            labels=["accepted", "code"],
        )
        for (accepted, code), n in sorted(counts.items()):
            reported.add_metric(["true" if accepted else "false", code], n)
        yield reported
        yield CounterMetricFamily(
            "hall_profile_rollbacks",
            "Device profile re-opens rolled back by nodes (a device failed its health check)",
            value=counts.get((False, ROLLED_BACK), 0),
        )
        if self.stats is not None:
            for name, value in sorted(self.stats().items()):
                yield CounterMetricFamily(
                    f"hall_ingest_{name}", f"Ingest {name} in this central process", value=value
                )


def node_metrics(nodes: list[dict[str, Any]]) -> Iterator[Metric]:
    states = Counter(n["state"] or "unknown" for n in nodes)
    by_state = GaugeMetricFamily(
        "hall_fleet_nodes", "Nodes central knows, by state", labels=["state"]
    )
    for state in sorted({"online", "offline", *states}):
        by_state.add_metric([state], states[state])
    yield by_state
    up = GaugeMetricFamily("hall_node_up", "1 when the node's status says online", labels=NODE)
    seen = GaugeMetricFamily(
        "hall_node_last_seen_timestamp_seconds",
        "When central last heard from the node",
        labels=NODE,
    )
    backlog = GaugeMetricFamily(
        "hall_node_backlog_events", "Events the node holds that central does not", labels=NODE
    )
    acked = GaugeMetricFamily(
        "hall_node_acked_seq", "Highest seq central holds in full", labels=NODE
    )
    offset = GaugeMetricFamily(
        "hall_node_clock_offset_seconds", "Central's clock minus the node's", labels=NODE
    )
    info = GaugeMetricFamily(
        "hall_node_info", "The node's agent version (always 1)", labels=[*NODE, "agent_version"]
    )
    disk = GaugeMetricFamily(
        "hall_node_disk_free_bytes", "Free space on the node's data disk", labels=NODE
    )
    profile = GaugeMetricFamily(
        "hall_node_profile_version",
        "Version of each device profile pushed to the node",
        labels=[*NODE, "profile"],
    )
    device = GaugeMetricFamily(
        "hall_device_up", "1 when the device is online", labels=[*NODE, "device"]
    )
    device_state = GaugeMetricFamily(
        "hall_device_state",
        "The device's state and reason (always 1)",
        labels=[*NODE, "device", "status", "reason"],
    )
    device_profile = GaugeMetricFamily(
        "hall_device_profile_version",
        "Version of the pushed profile the device was last re-opened with",
        labels=[*NODE, "device", "profile"],
    )
    rolled_back = GaugeMetricFamily(
        "hall_device_profile_rolled_back",
        "1 when the device's last pushed profile was rolled back (it runs its last good one)",
        labels=[*NODE, "device", "profile"],
    )
    since = GaugeMetricFamily(
        "hall_device_state_since_timestamp_seconds",
        "When the device entered its state",
        labels=[*NODE, "device"],
    )
    for n in nodes:
        labels = [n["hall_id"], n["node_id"]]
        up.add_metric(labels, 1 if n["state"] == "online" else 0)
        if (moment := parse_time(n["last_seen"])) is not None:
            seen.add_metric(labels, moment.timestamp())
        if n["backlog"] is not None:
            backlog.add_metric(labels, n["backlog"])
        acked.add_metric(labels, n["acked_seq"])
        if n["clock_offset_s"] is not None:
            offset.add_metric(labels, n["clock_offset_s"])
        if n["disk_free_mb"] is not None:
            disk.add_metric(labels, n["disk_free_mb"] * 1024**2)
        if n["agent_version"]:
            info.add_metric([*labels, n["agent_version"]], 1)
        for name, version in sorted(n["profiles"].items()):
            profile.add_metric([*labels, name], version)
        for name, d in sorted(n["devices"].items()):
            device.add_metric([*labels, name], 1 if d.get("status") == "online" else 0)
            device_state.add_metric([*labels, name, str(d.get("status")), d.get("reason") or ""], 1)
            if (moment := parse_time(d.get("since"))) is not None:
                since.add_metric([*labels, name], moment.timestamp())
            if d.get("profile"):
                which = [*labels, name, str(d["profile"])]
                device_profile.add_metric(which, d.get("profile_version") or 0)
                rolled_back.add_metric(which, 1 if d.get("profile_outcome") == "rolled_back" else 0)
    yield from (up, seen, backlog, acked, offset, disk, info, profile, device, device_state, since)
    yield from (device_profile, rolled_back)


class MetricsServer:
    """``/metrics`` over HTTP on ``host:port`` (port 0: a free one, see :attr:`port`)."""

    def __init__(self, collector: FleetCollector, host: str, port: int) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server, self._thread = start_http_server(port, host, registry=self.registry)
        self.host = host
        self.port = int(self._server.server_port)
        log.info("fleet metrics on http://%s:%d/metrics", host, self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
