"""The hall-agent program as an operator uses it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent.cli import main
from agent.config import always_open, sample_config


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def test_a_window_day_through_the_cli(node: Path, capsys) -> None:
    code, ticket = run_json(capsys, "queue", "issue", "--service", "household")
    assert code == 0
    assert {"number", "service", "state", "issued_at"} <= ticket.keys()
    assert (ticket["number"], ticket["state"]) == ("B001", "waiting")
    assert run_json(capsys, "queue", "call", "--window", "2")[1]["state"] == "called"
    assert run_json(capsys, "queue", "start", "--window", "2")[1]["state"] == "serving"
    assert run_json(capsys, "queue", "finish", "--window", "2")[1]["state"] == "done"
    code, rated = run_json(capsys, "queue", "rate", "--window", "2", "--score", "4")
    assert code == 0 and rated["number"] == "B001"
    code, status = run_json(capsys, "queue", "status")
    assert [s["issued"] for s in status["services"]] == [0, 1, 0, 0]
    assert main(["events", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [e["type"] for e in lines] == [
        "TicketIssued",
        "TicketCalled",
        "ServiceStarted",
        "ServiceFinished",
        "EvaluationRecorded",
    ]
    assert [e["seq"] for e in lines] == [1, 2, 3, 4, 5]


def test_domain_errors_print_json_and_exit_non_zero(node: Path, capsys) -> None:
    code, error = run_json(capsys, "queue", "call", "--window", "1")
    assert code == 1
    assert error["code"] == "nobody_waiting" and "nobody is waiting" in error["error"]
    code, error = run_json(capsys, "queue", "transfer", "--window", "1", "--to-service", "x")
    assert code == 1 and error["code"] == "no_current_ticket"


def test_bad_config_exits_2_naming_file_and_field_and_writes_nothing(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    data = always_open(sample_config()).model_dump(mode="json")
    data["services"][1]["prefix"] = "a1"
    data["windows"][0]["surprise"] = True
    import yaml

    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    target = tmp_path / "fresh"
    assert main(["--data-dir", str(target), "init", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: services.2.prefix:" in err  # positions counted from 1
    assert f"{bad}: windows.1.surprise: Extra inputs are not permitted" in err
    assert not target.exists()


def test_queue_commands_need_an_initialised_data_dir(tmp_path, capsys) -> None:
    code = main(["--data-dir", str(tmp_path / "none"), "queue", "status"])
    assert code == 2
    assert "not initialised" in capsys.readouterr().err


def test_headless_demo_same_seed_same_summary(capsys) -> None:
    summaries = []
    for seed in (5, 5, 6):
        assert main(["demo", "--headless", "--arrivals", "60", "--seed", str(seed), "--json"]) == 0
        summaries.append(json.loads(capsys.readouterr().out))
    assert summaries[0] == summaries[1] != summaries[2]
    services = summaries[0]["services"]
    issued = sum(s["issued"] for s in services.values())
    assert 0 < issued <= 60
    for s in services.values():
        assert s["served"] + s["no_show"] + s["transferred"] + s["unserved"] <= (
            s["issued"] + s["transferred_in"] + s["bundle_in"]
        )


def test_headless_demo_refuses_a_data_dir_that_holds_events(node: Path, capsys) -> None:
    assert main(["queue", "issue", "--service", "household"]) == 0
    before = (node / "hall.db").stat().st_size
    assert main(["--data-dir", str(node), "demo", "--headless", "--arrivals", "5"]) == 2
    assert "fresh data dir" in capsys.readouterr().err
    assert main(["events", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert (node / "hall.db").stat().st_size == before


def test_verify_names_the_damaged_event_and_a_node_id_edit_stops_the_cli(
    node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        assert run_json(capsys, "queue", "issue", "--service", "household")[0] == 0
    code, result = run_json(capsys, "verify")
    assert (code, result["ok"], result["last_seq"]) == (0, True, 3)
    node_yaml = node / "node.yaml"
    original = node_yaml.read_text()
    node_yaml.write_text(original.replace("node_id: ", "node_id: x", 1))
    code, error = run_json(capsys, "queue", "issue", "--service", "household")
    assert (code, error["code"]) == (3, "identity_mismatch")  # the store cannot be used
    assert "node.yaml" in error["error"]
    node_yaml.write_text(original)
    db = sqlite3.connect(node / "hall.db")
    db.execute("UPDATE events SET type = 'TicketCalled' WHERE seq = 2")
    db.commit()
    db.close()
    code, error = run_json(capsys, "verify")
    assert (code, error["code"], error["seq"]) == (3, "store_damaged", 2)
