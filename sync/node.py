"""Starting and stopping one node, the same way for every role (hub, kiosk, window, display,
all): the core and its store, the central sync, the hall LAN server (or, on a terminal PC,
the LAN client to the hub), the node's devices (their health recorded as core events, each
window's LED strip and evaluator following the core's events: see :mod:`sync.node_devices`),
and the monitor that logs what runs and feeds systemd's watchdog.

The screens (ui/) and the headless hub (``hall-agent run --role hub``) both start here; the
MQTT parts are imported only when a broker is configured, so an offline village point needs
no MQTT library.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.config import HallConfig
from agent.datadir import HubLock
from agent.errors import ConfigError
from agent.node import DeviceSpec
from agent.node_runtime import Node
from agent.runtime import CoreRuntime
from agent.watchdog import NodeMonitor
from sync.device_profiles import ProfileApplier
from sync.node_devices import (
    DeviceHealth,
    WindowDevices,
    lan_execute,
    open_devices,
    runtime_execute,
)

if TYPE_CHECKING:
    from agent.ratings import RatingIndicators
    from devices.manager import DeviceManager
    from sync.lan import LanClient, LanServer
    from sync.rating_api import RatingApi
    from sync.service import SyncService, SyncSettings
    from sync.terminal_devices import TerminalDeviceRequests

log = logging.getLogger(__name__)

#: The core loop turns at least once a tick (1 s); a core silent this long is hung.
CORE_SILENT_S = 30.0


@dataclass
class NodeServices:
    """What :func:`start_node` started; ``runtime`` is None on a terminal that reaches its
    hub over the hall LAN (``lan_client``)."""

    node: Node
    role: str
    monitor: NodeMonitor
    runtime: CoreRuntime | None = None
    sync: SyncService | None = None
    lan_server: LanServer | None = None
    lan_client: LanClient | None = None
    #: The node's devices, open (None without any); screens use these.
    devices: DeviceManager | None = None
    #: Each window's LED strip and evaluator, following the core (None without devices).
    window_devices: WindowDevices | None = None
    #: The business system's loopback rating interface (node.yaml ``rating_api_port``).
    rating_api: RatingApi | None = None
    #: A terminal's runner of the hub's device requests (central's probe / re-open).
    terminal_devices: TerminalDeviceRequests | None = None


@contextlib.contextmanager
def start_node(
    node: Node,
    role: str,
    *,
    broker: str | None = None,
    settings: SyncSettings | None = None,
    remote: bool = False,
    devices: list[DeviceSpec] | None = None,
) -> Iterator[NodeServices]:
    """Start ``node``'s parts for ``role``; on leaving, stop what was started, in reverse
    order, also when a later step failed (a thread left running keeps the process alive).

    ``broker`` (``--broker``) overrides the node config's central broker URL; ``remote``
    makes this PC a terminal of the hub over the hall LAN instead of opening the store.
    ``devices`` replaces node.yaml's devices (the demo's simulated hall).
    """
    with contextlib.ExitStack() as started:
        monitor = NodeMonitor(lambda: node.describe(role))
        services = NodeServices(node, role, monitor)
        # Profiles pushed from central (hub) or relayed by the hub (terminal) queue here
        # from the first message on, and are applied once the devices are open.
        profiles = ProfileApplier(node.data.profiles)
        started.callback(profiles.close)
        if remote:
            from sync.lan import LanClient

            if node.node.hall_broker is None:
                raise ConfigError(
                    "node.yaml: hall_broker: not set (a terminal reaches its hub there)"
                )
            # The terminal is its hall broker login (hall.yaml ``terminals``).
            terminal = node.node.hall_broker.username or node.node.node_id
            client = LanClient(node.hall.hall_id, terminal, node.node.hall_broker, role=role)
            client.on_profile(profiles.relayed)
            services.lan_client = client.start()
            started.callback(client.stop)
        else:
            # This process is the data dir's one hub (a second one stops here, named).
            started.enter_context(HubLock(node.data, role))
            runtime = node.runtime().start()
            started.callback(runtime.stop)
            services.runtime = runtime
            monitor.add_check("core", lambda: runtime.heartbeat.fresh(CORE_SILENT_S))
            services.sync = _start_sync(node, runtime, broker, settings)
            if services.sync is not None:
                started.callback(services.sync.stop)
            if node.node.hall_broker is not None:  # terminals on other PCs reach the queue here
                from sync.lan import LanServer

                services.lan_server = LanServer(node, runtime).start()
                started.callback(services.lan_server.stop)
                profiles.relay = services.lan_server.relay_profile
        _start_devices(node, services, started, node.node.devices if devices is None else devices)
        _start_remote_devices(services, started)
        if node.node.rating_api_port is not None:
            services.rating_api = _start_rating_api(node, services, node.node.rating_api_port)
            started.callback(services.rating_api.stop)
        _start_profiles(services, profiles)
        monitor.start()
        started.callback(monitor.stop)
        yield services


def _start_devices(
    node: Node, services: NodeServices, started: contextlib.ExitStack, specs: list[DeviceSpec]
) -> None:
    """Open the devices; their health goes to the core, the core's events to their windows."""
    if not specs:
        return
    if services.lan_client is not None:
        execute = lan_execute(services.lan_client)
    else:
        assert services.runtime is not None
        execute = runtime_execute(services.runtime)
    health = DeviceHealth(specs, execute)
    started.callback(health.close)
    manager = open_devices(node, specs, health)
    started.callback(manager.close)
    services.devices = manager
    follower = WindowDevices(
        manager,
        execute,
        leds=[s.id for s in specs if s.kind == "led"],
        indicators=functools.partial(_rating_indicators, services),
    )
    started.callback(follower.close)
    services.window_devices = follower
    if services.lan_client is not None:
        started.callback(services.lan_client.subscribe(follower.follow_wire))
    else:
        assert services.runtime is not None
        started.callback(services.runtime.subscribe(follower.follow_event))
        follower.restore(services.runtime.read("hall_status")["windows"])
    manager.on_status(follower.device_status)


def _start_remote_devices(services: NodeServices, started: contextlib.ExitStack) -> None:
    """Central's ``reopen_devices`` / ``probe``: at the hub, on its own devices and, through
    the hall LAN, on the terminals' (``terminal/device``); at a terminal, the hub's requests
    run on this PC's devices (:mod:`sync.terminal_devices`)."""
    from sync.remote_devices import ManagerDevices
    from sync.terminal_devices import HallDevices, TerminalDeviceRequests

    own = ManagerDevices(services.devices) if services.devices is not None else None
    if services.lan_client is not None:
        handler = TerminalDeviceRequests(services.lan_client, own).start()
        started.callback(handler.close)
        services.terminal_devices = handler
    elif services.sync is not None:
        if services.lan_server is not None:
            services.sync.attach_devices(HallDevices(own, services.lan_server))
        elif own is not None:
            services.sync.attach_devices(own)


def _rating_indicators(services: NodeServices) -> RatingIndicators:
    """The indicator list of the hall config in effect at the hub (central may have pushed a
    newer one than this PC's hall.yaml): reasons chosen on a screen are named by it."""
    if services.lan_client is not None:
        config = HallConfig.model_validate(services.lan_client.query("config"))
        return config.rating_indicators
    assert services.runtime is not None
    return services.runtime.hall_config().rating_indicators


def _start_rating_api(node: Node, services: NodeServices, port: int) -> RatingApi:
    """The loopback interface for this PC's windows: a window PC's own (hall.yaml
    ``terminals``), every window on the hub or a village point's PC."""
    from sync.rating_api import RatingApi

    if services.lan_client is not None:
        client = services.lan_client
        login = node.node.hall_broker.username if node.node.hall_broker else None
        terminal = node.hall.terminal(login or node.node.node_id)
        windows = terminal.windows if terminal is not None else []
        return RatingApi(lan_execute(client), client.query, windows, port).start()
    runtime = services.runtime
    assert runtime is not None
    windows = [w.number for w in node.hall.windows]
    return RatingApi(runtime_execute(runtime), runtime.read, windows, port).start()


def _start_profiles(services: NodeServices, profiles: ProfileApplier) -> None:
    """Apply pushed (hub) or relayed (terminal) profiles to the open devices; the hub
    relays the profiles it holds again, for terminals that missed one."""
    if services.lan_client is not None:
        profiles.start(services.devices, lan_execute(services.lan_client))
        return
    runtime = services.runtime
    assert runtime is not None
    if services.sync is not None:
        services.sync.on_profile(profiles.pushed)
    stored = runtime.read("profile_versions") if profiles.relay is not None else None
    profiles.start(services.devices, runtime_execute(runtime), stored)


def _start_sync(
    node: Node, runtime: CoreRuntime, broker: str | None, settings: SyncSettings | None
) -> SyncService | None:
    if not broker and node.node.broker is None:
        return None
    from sync.service import start_sync

    return start_sync(node, runtime, broker_url=broker, settings=settings)
