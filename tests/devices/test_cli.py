"""Technician CLI and simulator command."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devices.cli import register
from devices.simulators import sample_card, start_simulator

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_probe_printer_json(capsys) -> None:
    sim = start_simulator("printer")
    try:
        sim.set_paper_near_end(True)
        assert run(["device", "probe", "--kind", "printer", "--port", sim.port, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["online"] is True and data["reason"] == "paper_near_end"
    finally:
        sim.stop()


def test_probe_idreader_shows_masked_card(capsys) -> None:
    sim = start_simulator("idreader", card=sample_card("resident-elderly"))
    try:
        assert run(["device", "probe", "--kind", "idreader", "--port", sim.port]) == 0
        out = capsys.readouterr().out
        assert "990000********0019" in out and "1950-03-12" in out
        assert "990000195003120019" not in out
    finally:
        sim.stop()


def test_probe_device_that_does_not_answer(capsys) -> None:
    sim = start_simulator("printer")
    try:
        sim.set_silent(True)
        assert run(["device", "probe", "--kind", "printer", "--port", sim.port]) == 1
        assert "no_answer" in capsys.readouterr().out
    finally:
        sim.stop()


def test_probe_evaluator_and_scanner(capsys) -> None:
    ev = start_simulator("evaluator", auto_score=4)
    sc = start_simulator("scanner")
    try:
        assert run(["device", "probe", "--kind", "evaluator", "--port", ev.port, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["score"] == 4
        assert (
            run(["device", "probe", "--kind", "scanner", "--port", sc.port, "--timeout", "0.1"])
            == 1
        )
    finally:
        ev.stop()
        sc.stop()


def test_print_test_and_bad_profile(capsys) -> None:
    sim = start_simulator("printer")
    try:
        assert run(["device", "print-test", "--port", sim.port, "--profile", "escpos-58mm"]) == 0
        assert sim.wait_tickets(1)
        assert "打印测试" in sim.tickets[0]
        assert run(["device", "print-test", "--port", sim.port, "--profile", "ga467-serial"]) == 2
    finally:
        sim.stop()


@pytest.mark.timeout(30)
def test_simulate_command_prints_port_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "devices.cli", "simulate", "idreader", "--card", "hmt-permit"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/pts/")
        assert run(["device", "probe", "--kind", "idreader", "--port", port]) == 0
    finally:
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=10) == 0
