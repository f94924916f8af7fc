"""Central's ``probe`` and ``reopen_devices`` reach the devices of a terminal PC through its
hub: central names the device ``{terminal}/{device}``, the hub relays the request over the
hall LAN to that terminal only, and answers with the terminal's result (real Mosquitto
brokers: the central one and the shipped hall broker with its generated ACL; the kiosk's
printer on a pty)."""

from __future__ import annotations

from pathlib import Path

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.simulators import start_simulator
from sync import contract as ct
from sync.lan import wire
from sync.node import start_node
from sync.remote import RemoteCommands
from sync.signing import CENTRAL_PUBLIC_KEY_FILE, public_pem
from sync.terminal_devices import HallDevices
from tests.support import wait_until
from tests.sync.conftest import Broker, HallBroker, make_node, terminal_client
from tests.sync.test_profile_push import kiosk_pc
from tests.sync.test_remote import KEY, PRINTER, Central, central, running

__all__ = ["central"]  # the fixture, shared with test_remote


def forge_device_request(client: object, hall_id: str, login: str) -> None:
    """``login`` publishes a re-open of kiosk-1's printer on kiosk-1's device request topic
    (with its own answer topic, or kiosk-1's), as only the hub may."""
    for answer_to in (login, "kiosk-1"):
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = wire.device_answer_topic(hall_id, answer_to)
        props.CorrelationData = f"forged-by-{login}".encode()
        request = wire.DeviceRequest(
            schema_version=1, action="reopen", device="printer", timeout_s=5
        )
        topic = wire.device_request_topic(hall_id, "kiosk-1")
        info = client._client.publish(  # type: ignore[attr-defined]
            topic, wire.device_payload(request), qos=1, properties=props
        )
        info.wait_for_publish(5)


@pytest.mark.mqtt
@pytest.mark.slow
def test_probe_and_reopen_of_a_kiosk_pc_printer_go_through_the_hub(
    broker: Broker, hall_broker: HallBroker, central: Central, tmp_path: Path
) -> None:
    """GIVEN a hub reaching central and serving the hall LAN, a kiosk PC with a printer
    WHEN IT probes kiosk-1/printer THEN central shows it online; out of paper THEN failed,
    paper_out; WHEN IT re-opens it THEN done; a terminal the hall does not name, or a device
    the kiosk does not have THEN failed with a clear reason; WHEN kiosk-1's and window-1's
    logins publish a re-open on kiosk-1's device request topic THEN the kiosk never runs it
    (the next probe from the hub is the only request it ran); WHEN the kiosk PC is off THEN
    a probe fails terminal_unreachable after its timeout."""
    hall_id = hall_broker.hall.hall_id
    hub = make_node(tmp_path / "hub", broker.url, hall_broker=hall_broker.login("hub"))
    (hub.data.root / CENTRAL_PUBLIC_KEY_FILE).write_bytes(public_pem(KEY))
    printer = start_simulator("printer", link=tmp_path / "printer")
    kiosk = kiosk_pc(tmp_path / "kiosk", hall_broker, printer.port)
    try:
        with running(hub, central) as hub_side:
            assert hub_side.sync is not None and hub_side.lan_server is not None
            assert isinstance(hub_side.sync._remote.devices, HallDevices)
            with start_node(kiosk, "kiosk", remote=True) as kiosk_side:
                client, devices = kiosk_side.lan_client, kiosk_side.devices
                handler = kiosk_side.terminal_devices
                assert client is not None and devices is not None and handler is not None
                assert client.wait_hub(10)
                assert wait_until(lambda: devices.status("printer")[0] == "online", 15)

                v = central.send(hub, "probe", "--device", "kiosk-1/printer", "--timeout", "5")
                online = central.wait_state(hub, v, ("done", "failed"))
                assert online["state"] == "done", online
                assert online["data"]["devices"]["kiosk-1/printer"] == {
                    "ok": True,
                    "status": "online",
                    "reason": None,
                }

                printer.set_paper_out()
                v = central.send(hub, "probe", "--device", "kiosk-1/printer")
                out = central.wait_state(hub, v, ("done", "failed"))
                assert out["state"] == "failed", out
                assert out["detail"] == "kiosk-1/printer: fault (paper_out)"
                assert out["data"]["devices"]["kiosk-1/printer"] == {
                    "ok": False,
                    "status": "fault",
                    "reason": "paper_out",
                }

                printer.set_paper_out(False)
                v = central.send(hub, "reopen_devices", "--device", "kiosk-1/printer")
                reopened = central.wait_state(hub, v, ("done", "failed"))
                assert reopened["state"] == "done", reopened
                assert reopened["data"]["devices"]["kiosk-1/printer"]["status"] == "online"

                v = central.send(hub, "probe", "--device", "kiosk-9/printer")
                unknown = central.wait_state(hub, v, ("done", "failed"))
                assert unknown["state"] == "failed"
                assert unknown["detail"] == (
                    "no terminal 'kiosk-9' in the hall's terminals (hall.yaml terminals)"
                )
                v = central.send(hub, "reopen_devices", "--device", "kiosk-1/scanner")
                missing = central.wait_state(hub, v, ("done", "failed"))
                assert missing["state"] == "failed"
                assert missing["detail"] == "no device 'scanner' on terminal kiosk-1"

                # ---- only the hub's login may ask a terminal: the ACL, then a marker ----------
                ran = handler.handled
                forge_device_request(client, hall_id, "kiosk-1")
                other = terminal_client(hall_broker, "window-1").start()
                try:
                    assert other.wait_hub(10)
                    forge_device_request(other, hall_id, "window-1")
                finally:
                    other.stop()
                v = central.send(hub, "probe", "--device", "kiosk-1/printer")  # the marker
                assert central.wait_state(hub, v, ("done", "failed"))["state"] == "done"
                assert handler.handled == ran + 1

            # ---- the kiosk PC is off ---------------------------------------------------------
            v = central.send(hub, "probe", "--device", "kiosk-1/printer", "--timeout", "1")
            gone = central.wait_state(hub, v, ("done", "failed"))
            assert gone["state"] == "failed"
            assert gone["data"]["devices"]["kiosk-1/printer"]["reason"] == "terminal_unreachable"
            # the hub's own devices still answer as before
            v = central.send(hub, "probe", "--device", PRINTER.id)
            assert central.wait_state(hub, v, ("done", "failed"))["state"] == "done"
    finally:
        printer.stop()


class NoTerminals:
    """A hall LAN with no terminals (nothing is ever relayed)."""

    def has_terminal(self, terminal_id: str) -> bool:
        return False

    def ask_device(self, *args: object) -> wire.DeviceAnswer | None:
        raise AssertionError("nothing is relayed for a hall without terminals")


def test_a_hub_without_devices_of_its_own_says_so_and_names_unknown_terminals(
    tmp_path: Path,
) -> None:
    replies: list[ct.CommandReply] = []
    remote = RemoteCommands("n1", tmp_path / "agent.log", replies.append)
    remote.devices = HallDevices(None, NoTerminals())
    remote.start()
    try:
        remote.submit(1, ct.CommandData(name="reopen_devices"))
        remote.submit(2, ct.CommandData(name="probe", device="printer"))
        remote.submit(3, ct.CommandData(name="probe", device="kiosk-1/printer"))
        assert wait_until(lambda: len(replies) == 3, 10)
    finally:
        remote.stop()
    assert [(r.version, r.status, r.detail) for r in replies] == [
        (1, "failed", "this node has no devices of its own"),
        (2, "failed", "no device 'printer' on this node"),
        (3, "failed", "no terminal 'kiosk-1' in the hall's terminals (hall.yaml terminals)"),
    ]
