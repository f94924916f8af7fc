"""The device manager over simulators: callbacks, status reports, unplug and reconnect."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.node import DeviceSpec
from devices.led import EvaluatorRating
from devices.manager import DeviceManager
from devices.printer import sample_ticket
from devices.simulators import sample_card, start_simulator
from tests.support import wait_until


class Reports:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, str | None]] = []
        self.cond = threading.Condition()

    def __call__(self, device_id: str, status: str, reason: str | None) -> None:
        with self.cond:
            self.items.append((device_id, status, reason))
            self.cond.notify_all()

    def wait(self, entry: tuple[str, str, str | None], timeout: float = 10) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: entry in self.items, timeout)


def spec(id_: str, kind: str, profile: str, port: str = "-", **kw) -> DeviceSpec:
    return DeviceSpec(id=id_, kind=kind, profile=profile, port=port, **kw)


def fast_manager(specs: list[DeviceSpec], reports: Reports, **kw) -> DeviceManager:
    """A manager that polls and retries in tens of milliseconds (tests wait for it)."""
    timing = {"poll_interval": 0.05, "backoff_initial": 0.02, "backoff_max": 0.1}
    return DeviceManager(specs, None, reports, **{**timing, **kw})


@pytest.fixture
def hall(secret):
    reports = Reports()
    specs = [
        spec("printer", "printer", "escpos-80mm", simulated=True),
        spec("reader", "idreader", "ga467-serial", simulated=True),
        spec("scanner", "scanner", "scanner-serial", simulated=True),
        spec("led", "led", "led-rs485-generic", simulated=True),
        spec("eval-2", "evaluator", "evaluator-generic", simulated=True, window=2, address=9),
    ]
    m = fast_manager(specs, reports, secret=secret)
    m.start()
    yield m, reports
    m.close()


def test_simulated_hall_comes_online_and_serves(hall) -> None:
    m, reports = hall
    for dev in ("printer", "reader", "scanner", "led", "eval-2"):
        assert reports.wait((dev, "online", None)), dev
    cards, codes = [], []
    m.on_card(lambda dev, card: cards.append((dev, card)))
    m.on_code(lambda dev, code: codes.append((dev, code)))
    m.simulator("reader").present(sample_card("resident-elderly"))
    m.simulator("scanner").emit("APPT-0930-XYZ")
    assert wait_until(lambda: cards and codes)
    assert cards[0][0] == "reader" and cards[0][1].birth_date.year == 1950
    assert codes == [("scanner", "APPT-0930-XYZ")]

    result = m.printer().print_ticket(sample_ticket())
    assert result.ok
    assert m.simulator("printer").wait_tickets(1)

    assert m.show(4, "请A001到4号窗口")
    assert m.simulator("led").shown[4] == "请A001到4号窗口"
    assert m.show(5, "A002") and m.simulator("led").shown[5] == "A002"  # one bus, every window

    m.simulator("eval-2").auto_score = 5
    assert m.request_rating(2, "A001", timeout=5) == EvaluatorRating(5)
    assert m.simulator("eval-2").requests[-1] == (9, "A001")  # the spec's bus address
    assert m.request_rating(3, "A001", timeout=1) is None  # no evaluator at window 3


def test_failed_print_returns_reason_and_reports_fault(hall) -> None:
    m, reports = hall
    assert reports.wait(("printer", "online", None))
    m.simulator("printer").set_paper_out(True)
    result = m.printer().print_ticket(sample_ticket())
    assert (result.ok, result.reason) == (False, "paper_out")
    assert reports.wait(("printer", "fault", "paper_out"))
    m.simulator("printer").set_paper_out(False)
    assert reports.wait(("printer", "online", None), timeout=10)
    assert reports.items.count(("printer", "fault", "paper_out")) == 1  # changes only


def test_unplug_and_replug_reconnects(tmp_path: Path, secret) -> None:
    link = tmp_path / "ttyPRINTER"
    sim = start_simulator("printer", link=link)
    reports = Reports()
    m = fast_manager([spec("p", "printer", "escpos-58mm", port=str(link))], reports)
    try:
        m.start()
        assert reports.wait(("p", "online", None))
        sim.unplug()
        assert wait_until(lambda: m.status("p")[0] == "offline")
        result = m.printer().print_ticket(sample_ticket())
        assert not result.ok and result.reason in ("port_gone", "port_unavailable", "no_answer")
        sim.replug()
        assert wait_until(lambda: m.status("p") == ("online", None))
        assert m.printer().print_ticket(sample_ticket()).ok
        assert sim.wait_tickets(1)
    finally:
        m.close()
        sim.stop()


def test_reader_that_stops_answering_fails_its_probe_goes_offline_then_back(secret) -> None:
    sim = start_simulator("idreader")
    reports = Reports()
    m = fast_manager([spec("r", "idreader", "ga467-serial", port=sim.port)], reports, secret=secret)
    try:
        m.start()
        assert reports.wait(("r", "online", None))
        assert m.probe("r", timeout=2).ok
        sim.set_fault("silent")
        probe = m.probe("r", timeout=0.5)
        assert (probe.ok, probe.reason) == (False, "no_answer")
        assert reports.wait(("r", "offline", "no_answer"))
        sim.set_fault(None)
        assert wait_until(lambda: m.status("r") == ("online", None))
    finally:
        m.close()
        sim.stop()


def test_missing_port_is_offline_not_a_crash(secret) -> None:
    reports = Reports()
    m = DeviceManager(
        [spec("p", "printer", "escpos-80mm", port="/dev/does-not-exist")],
        None,
        reports,
        backoff_initial=0.02,
        backoff_max=0.05,
    )
    with m:
        assert reports.wait(("p", "offline", "port_unavailable"))
        assert m.printer().print_ticket(sample_ticket()).reason == "port_unavailable"
        assert m.show(1, "x") is False


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="is for a printer"):
        DeviceManager([spec("x", "led", "escpos-80mm")], None, Reports())
    with pytest.raises(ValueError, match="secret"):
        DeviceManager([spec("r", "idreader", "ga467-serial")], None, Reports())


def test_a_profile_pushed_from_central_is_used_instead_of_the_packaged_one(tmp_path: Path) -> None:
    """The data dir's profiles (written by the sync from a signed message) come first."""
    import yaml

    from devices.profiles import default_profiles_dir

    pushed = tmp_path / "profiles"
    pushed.mkdir()
    data = yaml.safe_load((default_profiles_dir() / "led-rs485-generic.yaml").read_text())
    (pushed / "led-rs485-generic.yaml").write_text(yaml.safe_dump({**data, "max_chars": 24}))
    specs = [spec("led", "led", "led-rs485-generic"), spec("p", "printer", "escpos-80mm")]
    m = DeviceManager(specs, None, Reports(), pushed_profiles=pushed)
    assert m.devices["led"].profile.max_chars == 24  # type: ignore[union-attr]
    assert m.devices["p"].profile.name == "Generic ESC/POS 80 mm"  # the packaged one
    plain = DeviceManager(specs, None, Reports())
    assert plain.devices["led"].profile.max_chars == 16  # type: ignore[union-attr]


# ---- re-open with another profile, health probe, rollback ----------------------------------
def led_variant(**framing: object):
    """The generic LED profile with its framing changed (the strip's firmware is not)."""
    from devices.last_good import profile_document
    from devices.profiles import load_profile, parse_profile

    doc = profile_document(load_profile("led-rs485-generic"))
    doc["framing"] = {**doc["framing"], **framing}
    doc["name"] = "LED strip, changed framing"
    return parse_profile(doc, "test")


def test_reopen_with_a_good_profile_keeps_it_and_the_device_answers(tmp_path: Path) -> None:
    reports = Reports()
    specs = [spec("p", "printer", "escpos-80mm", simulated=True)]
    m = fast_manager(specs, reports, last_good=tmp_path / "last-good")
    with m:
        assert reports.wait(("p", "online", None))
        from devices.profiles import load_profile

        narrow = load_profile("escpos-58mm")
        outcome = m.reopen("p", narrow, timeout=5)
        assert (outcome.outcome, outcome.reason) == ("applied", None)
        assert m.profile("p") == narrow
        assert m.probe("p", timeout=5).ok
        assert m.printer().print_ticket(sample_ticket()).ok
        assert m.simulator("p").wait_tickets(1)
    assert (tmp_path / "last-good" / "p.yaml").exists()


def test_a_profile_the_led_strip_does_not_answer_is_rolled_back(tmp_path: Path) -> None:
    """GIVEN an LED strip online; WHEN it is re-opened with a profile whose checksum the
    strip's firmware does not speak (xor8 for sum8); THEN the strip ignores the frames, the
    probe gets no acknowledgement, and the strip is back on its old profile, working."""
    reports = Reports()
    specs = [spec("led", "led", "led-rs485-generic", simulated=True, window=4)]
    m = fast_manager(specs, reports, last_good=tmp_path / "last-good")
    with m:
        assert reports.wait(("led", "online", None))
        good = m.profile("led")
        assert m.show(4, "请A001号")
        outcome = m.reopen("led", led_variant(checksum={"kind": "xor8"}), timeout=1.5)
        assert outcome.outcome == "rolled_back"
        assert outcome.reason is not None and "no_answer" in outcome.reason
        assert m.profile("led") == good
        assert m.probe("led", timeout=2).ok
        assert m.show(4, "请A002号") and m.simulator("led").shown[4] == "请A002号"
        assert m.status("led") == ("online", None)


def test_a_rollback_survives_a_restart(tmp_path: Path) -> None:
    """GIVEN a pushed LED profile rolled back; WHEN the manager starts again with that same
    pushed profile on disk; THEN the device opens with the last good one; a different
    (newer) pushed profile is tried again."""
    import yaml

    from devices.last_good import profile_document

    pushed, last_good = tmp_path / "profiles", tmp_path / "last-good"
    pushed.mkdir()
    bad = led_variant(header="AA 56")
    specs = [spec("led", "led", "led-rs485-generic", simulated=True, window=1)]
    m = fast_manager(specs, Reports(), last_good=last_good, pushed_profiles=pushed)
    with m:
        good = m.profile("led")
        assert m.reopen("led", bad, timeout=1).outcome == "rolled_back"
    (pushed / "led-rs485-generic.yaml").write_text(yaml.safe_dump(profile_document(bad)))
    again = fast_manager(specs, Reports(), last_good=last_good, pushed_profiles=pushed)
    assert again.profile("led") == good
    newer = {**profile_document(bad), "max_chars": 20}
    (pushed / "led-rs485-generic.yaml").write_text(yaml.safe_dump(newer))
    third = fast_manager(specs, Reports(), last_good=last_good, pushed_profiles=pushed)
    assert third.profile("led").max_chars == 20  # type: ignore[union-attr]


def test_reopen_refuses_a_profile_of_another_kind() -> None:
    from devices.profiles import load_profile

    m = fast_manager([spec("p", "printer", "escpos-80mm", port="/dev/null-x")], Reports())
    with pytest.raises(ValueError, match="not a led"):
        m.reopen("p", load_profile("led-rs485-generic"))
