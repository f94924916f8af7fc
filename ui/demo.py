"""Demo helpers: the sample appointment roster and the controls behind the simulator panel."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from agent import commands as c
from agent.config import HallConfig, sample_config
from agent.privacy import citizen_hash, citizen_key, mask_name
from ui.ports import CardRead, DevicePort, FakeDevices

#: A city hall's catalogue by category: (category zh, en, [(service zh, en), ...]).
CITY_CATALOGUE: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("社保医保", "Social insurance", (
        ("社保卡申领", "Social security card"), ("医保报销", "Medical reimbursement"),
        ("养老保险缴费", "Pension contributions"), ("失业登记", "Unemployment registration"),
        ("就业创业补贴", "Employment subsidies"), ("工伤认定", "Work injury"),
    )),
    ("户籍证件", "Residence & ID", (
        ("户口迁移", "Household transfer"), ("身份证办理", "Resident ID card"),
        ("居住证", "Residence permit"), ("出入境证件", "Exit & entry documents"),
        ("人才引进落户", "Talent residence"), ("生育登记", "Birth registration"),
    )),
    ("市场监管", "Market regulation", (
        ("营业执照设立", "Business licence"), ("企业变更登记", "Company changes"),
        ("企业注销", "Company deregistration"), ("食品经营许可", "Food business permit"),
        ("药品经营许可", "Drug business permit"), ("个体工商户登记", "Sole trader registration"),
    )),
    ("税务", "Taxation", (
        ("税务登记", "Tax registration"), ("发票领用", "Invoices"),
        ("个人所得税", "Individual income tax"), ("社保费缴纳", "Social insurance fees"),
    )),
    ("不动产与住房", "Property & housing", (
        ("不动产登记", "Property registration"), ("公积金提取", "Housing fund withdrawal"),
        ("公积金贷款", "Housing fund loans"), ("水电气报装", "Utility connections"),
    )),
    ("民政", "Civil affairs", (
        ("婚姻登记", "Marriage registration"), ("低保申请", "Minimum living allowance"),
        ("残疾人证", "Disability certificate"), ("老年人优待证", "Senior citizen card"),
        ("退役军人服务", "Veterans' services"),
    )),
    ("交通与建设", "Transport & building", (
        ("驾驶证换领", "Driving licence renewal"), ("机动车登记", "Vehicle registration"),
        ("道路运输许可", "Road transport permit"), ("施工许可", "Construction permit"),
        ("建设工程规划许可", "Building planning permit"), ("消防验收", "Fire safety approval"),
    )),
    ("综合服务", "General services", (
        ("法律援助", "Legal aid"), ("公证服务", "Notary services"), ("档案查询", "Archives"),
        ("教师资格认定", "Teacher certification"), ("医疗机构执业许可", "Clinic licence"),
        ("排污许可", "Discharge permit"), ("职称评审", "Professional titles"),
    )),
)  # fmt: skip


#: The city hall's "one thing" bundle (一件事): a birth, the household entry, the card.
NEWBORN = ("生育登记", "户口迁移", "社保卡申领")


def prefixes(count: int) -> list[str]:
    """A, B … Z, then AA, AB …: one letter while it lasts, two letters beyond 26."""
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    return (letters + [a + b for a in letters for b in letters])[:count]


def big_hall(services: int = 40, windows: int = 30) -> HallConfig:
    """A city hall of ``services`` services (≤ 120) in categories and ``windows`` windows,
    each serving a few services: the large hall the screens are tested with."""
    catalogue = [(zh, en, items) for zh, en, items in CITY_CATALOGUE]
    names = [(k, item) for k, (_zh, _en, items) in enumerate(catalogue) for item in items]
    rows = []
    for i, prefix in enumerate(prefixes(services)):
        k, (zh, en) = names[i % len(names)]
        round_ = i // len(names)
        if round_:
            zh, en = f"{zh}（{round_ + 1}）", f"{en} ({round_ + 1})"
        rows.append((k, f"s{i + 1:03d}", zh, en, prefix))
    base = sample_config()
    guide = base.services[0].guide
    config = {
        **base.model_dump(exclude={"services", "windows", "categories", "bundles"}),
        "hall_id": f"demo-city-{services}x{windows}",
        "name_zh": "滨江市民中心政务服务大厅",
        "name_en": "Binjiang Citizen Centre Service Hall",
        "level": "city",
        # a busy hall's managers watch the queues: 3 waiting for a service is an alarm
        "alarms": {"waiting_count": {"*": 3}, "on_display": ["waiting_count"]},
        "services": [
            {"code": code, "name_zh": zh, "name_en": en, "prefix": prefix,
             "guide": guide.model_dump()}
            for _k, code, zh, en, prefix in rows
        ],
        "windows": [
            {"number": n, "name_zh": f"{n}号窗口", "name_en": f"Window {n}",
             "services": [rows[i][1] for i in range(len(rows)) if i % windows == n - 1]
             or [rows[(n - 1) % len(rows)][1]]}
            for n in range(1, windows + 1)
        ],
        "categories": [
            {"code": f"c{k + 1}", "name_zh": zh, "name_en": en,
             "services": [code for kk, code, *_ in rows if kk == k]}
            for k, (zh, en, _items) in enumerate(catalogue)
            if any(kk == k for kk, *_ in rows)
        ],
    }  # fmt: skip
    by_name = {zh: code for _k, code, zh, _en, _p in rows}
    newborn = [by_name.get(zh) for zh in NEWBORN]
    if all(newborn):
        config["bundles"] = [
            {"code": "newborn", "name_zh": "新生儿出生一件事", "name_en": "Newborn registration",
             "services": newborn}
        ]  # fmt: skip
    return HallConfig.model_validate(config)


SAMPLE_APPOINTMENTS = ("APPT-DEMO-0001", "APPT-DEMO-0002", "APPT-DEMO-0003")
INVALID_CODE = "NOT-A-BOOKING-42"


#: The sample card booked by ID card in the demo (its swipe offers check-in).
BOOKED_CARD = "resident-young"


def sample_roster(
    config: HallConfig, now: dt.datetime, hall_key: bytes | None = None
) -> c.LoadAppointments:
    """Three booked appointments for today, the slot around now (the demo runs any hour);
    with the hall key, a fourth one booked by the young sample card's ID number, hashed as
    central hashes a roster (sync/fleet/roster.py)."""
    local = now.astimezone(config.zone)
    start = local - dt.timedelta(minutes=10)
    end = start + dt.timedelta(hours=1)
    services = [s.code for s in config.services]
    names = ("王*", "李*", "赵**")
    entries = [
        c.RosterEntry(code, services[i % len(services)], start, end, names[i])
        for i, code in enumerate(SAMPLE_APPOINTMENTS)
    ]
    if hall_key:
        fields = json.loads(_card_file(BOOKED_CARD).read_text(encoding="utf-8"))["fields"]
        day_hash = citizen_hash(citizen_key(hall_key, fields["number"]), start.date())
        entries.append(
            c.RosterEntry("APPT-DEMO-CARD", services[0], start, end, citizen_hash=day_hash)
        )
    return c.LoadAppointments(f"demo-{local.date().isoformat()}", tuple(entries))


def _card_file(name: str) -> Any:
    from devices.simulators.idreader import sample_card

    return sample_card(name)


class DemoControls:
    """What the simulator panel can do: swipe a card, scan a code, empty the printer,
    press an evaluator key. Works on the simulators or, without devices/, on the fakes."""

    def __init__(self, devices: DevicePort, secret: bytes) -> None:
        self.devices = devices
        self.secret = secret

    def _sim(self, device_id: str) -> Any:
        getter = getattr(self.devices, "simulator", None)
        return getter(device_id) if getter else None

    def swipe(self, card: str) -> None:
        sim = self._sim("kiosk-idreader")
        if sim is not None:
            sim.present(_card_file(card))
            return
        data = json.loads(_card_file(card).read_text(encoding="utf-8"))["fields"]
        birth = dt.date(int(data["birth"][:4]), int(data["birth"][4:6]), int(data["birth"][6:8]))
        read = CardRead(citizen_key(self.secret, data["number"]), mask_name(data["name"]), birth)
        if isinstance(self.devices, FakeDevices):
            self.devices.swipe(read)

    def scan(self, code: str) -> None:
        sim = self._sim("kiosk-scanner")
        if sim is not None:
            sim.emit(code)
        elif isinstance(self.devices, FakeDevices):
            self.devices.scan(code)

    def set_paper_out(self, value: bool) -> None:
        sim = self._sim("kiosk-printer")
        if sim is not None:
            sim.set_paper_out(value)
        elif isinstance(self.devices, FakeDevices):
            self.devices.paper_out = value

    def rating_pending(self, window: int) -> bool:
        sim = self._sim(f"evaluator-{window}")
        if sim is not None:
            return bool(sim.pending)
        if isinstance(self.devices, FakeDevices):
            return any(w == window for w, _n in self.devices.rating_requests)
        return False

    def press(self, window: int, score: int) -> bool:
        sim = self._sim(f"evaluator-{window}")
        if sim is not None:
            return bool(sim.press(score))
        if isinstance(self.devices, FakeDevices):
            self.devices.press(window, score)
            return True
        return False

    def printed(self) -> list[str]:
        sim = self._sim("kiosk-printer")
        if sim is not None:
            return list(sim.tickets)
        return [p.number for p in getattr(self.devices, "printed", [])]


def main(argv: list[str] | None = None) -> int:
    """``python -m ui.demo city-hall [--services 40] [--windows 30]``: a large hall config
    (YAML on stdout) for ``hall-agent demo --hall FILE``."""
    import argparse
    import sys

    import yaml

    parser = argparse.ArgumentParser(prog="python -m ui.demo")
    sub = parser.add_subparsers(dest="command", required=True)
    city = sub.add_parser("city-hall", help="print a large hall config")
    city.add_argument("--services", type=int, default=40, choices=range(1, 121), metavar="1-120")
    city.add_argument("--windows", type=int, default=30, choices=range(1, 41), metavar="1-40")
    args = parser.parse_args(argv)
    dumped = big_hall(args.services, args.windows).model_dump(mode="json")
    sys.stdout.write(yaml.safe_dump(dumped, allow_unicode=True, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
