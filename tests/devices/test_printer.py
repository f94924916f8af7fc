"""The printer driver through its simulator on a real pty, and against bad replies."""

from __future__ import annotations

import pytest

from devices.errors import BadFrame, NoAnswer
from devices.printer import TicketPrinter, interpret_status, sample_ticket
from devices.simulators import PrinterSimulator
from devices.transport import CaptureTransport, open_transport


@pytest.fixture
def sim():
    s = PrinterSimulator().start()
    yield s
    s.stop()


@pytest.fixture
def printer(sim, profile_80):
    p = TicketPrinter(open_transport(sim.port), profile_80, "kiosk-printer")
    yield p
    p.close()


def test_prints_a_ticket_and_checks_status_before_and_after(sim, printer) -> None:
    result = printer.print_ticket(sample_ticket())
    assert result.ok and result.reason is None
    assert sim.wait_tickets(1)
    assert "测试便民服务中心" in sim.tickets[0]
    assert "[QR HALL1:A001:TESTTOKEN]" in sim.tickets[0]
    assert sim.status_queries == 8  # DLE EOT 1..4 before and after
    assert result.bytes_sent == len(printer.renderer.ticket(sample_ticket()))


@pytest.mark.parametrize(
    ("control", "reason"),
    [("set_paper_out", "paper_out"), ("set_cover_open", "cover_open"), ("set_offline", "offline")],
)
def test_refuses_to_print_with_a_reason(sim, printer, control, reason) -> None:
    getattr(sim, control)(True)
    result = printer.print_ticket(sample_ticket())
    assert (result.ok, result.reason, result.bytes_sent) == (False, reason, 0)
    assert sim.tickets == []


def test_paper_near_end_prints_with_a_warning(sim, printer) -> None:
    sim.set_paper_near_end(True)
    result = printer.print_ticket(sample_ticket())
    assert result.ok and result.reason == "paper_near_end"


def test_silent_printer_is_no_answer(sim, printer) -> None:
    sim.set_silent(True)
    assert printer.print_ticket(sample_ticket()).reason == "no_answer"
    with pytest.raises(NoAnswer):
        printer.status()


def test_port_that_disappears(sim, printer) -> None:
    assert printer.status().online
    sim.unplug()
    result = printer.print_ticket(sample_ticket())
    assert (result.ok, result.reason) == (False, "port_gone")


def test_paper_runs_out_during_the_ticket(profile_80) -> None:
    t = CaptureTransport()
    t.feed(bytes([0x12] * 4) + bytes([0x1A, 0x32, 0x12, 0x72]))  # before ok; after: paper end
    result = TicketPrinter(t, profile_80).print_ticket(sample_ticket())
    assert (result.ok, result.reason) == (False, "paper_out")
    assert result.bytes_sent > 0
    assert t.written.startswith(b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04\x1b@")


def test_garbage_status_bytes_are_counted_then_bad_frame(profile_80) -> None:
    t = CaptureTransport()
    t.feed(b"\xff\x00\x81")  # none has the 0xx1xx10 pattern
    p = TicketPrinter(t, profile_80)
    with pytest.raises(BadFrame):
        p.status()
    assert p.bad_bytes == 3


def test_garbage_before_a_valid_status_byte_is_skipped(profile_80) -> None:
    t = CaptureTransport()
    t.feed(b"\xff\x12\x12\x12\x12")
    p = TicketPrinter(t, profile_80)
    assert p.status().online
    assert p.bad_bytes == 1


def test_status_bits() -> None:
    assert interpret_status({1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}).reason is None
    assert interpret_status({1: 0x1A, 2: 0x16}).reason == "cover_open"
    assert interpret_status({3: 0x1A}).reason == "cutter_error"
    assert interpret_status({3: 0x32}).reason == "error"
    assert interpret_status({4: 0x1E}).reason == "paper_near_end"
