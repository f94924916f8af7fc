"""Wire-level simulators of the hall devices, each on a pseudo-terminal.

``start_simulator(kind, profile, **opts)`` returns a running simulator whose ``.port`` a
driver opens like a real serial port; ``.stop()`` ends it. Kind-specific controls:
printer ``set_paper_out/set_paper_near_end/set_cover_open/set_offline/set_silent``, idreader
``present(card_json)/remove()/set_fault()``, scanner ``emit(code)``, led ``shown``,
evaluator ``press(score)``. Every simulator has ``unplug()/replug()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devices.profiles import (
    AnyProfile,
    EvaluatorProfile,
    LedProfile,
    ScannerProfile,
    load_profile,
)
from devices.simulators.base import PtySimulator
from devices.simulators.idreader import IdReaderSimulator, sample_card
from devices.simulators.led import EvaluatorSimulator, LedSimulator
from devices.simulators.printer import PrinterSimulator
from devices.simulators.scanner import ScannerSimulator

DEFAULT_PROFILES = {
    "printer": "escpos-80mm",
    "idreader": "ga467-serial",
    "scanner": "scanner-serial",
    "led": "led-rs485-generic",
    "evaluator": "evaluator-generic",
}

__all__ = [
    "DEFAULT_PROFILES",
    "EvaluatorSimulator",
    "IdReaderSimulator",
    "LedSimulator",
    "PrinterSimulator",
    "PtySimulator",
    "ScannerSimulator",
    "sample_card",
    "start_simulator",
]


def start_simulator(
    kind: str,
    profile: str | AnyProfile | None = None,
    *,
    profiles_dir: Path | None = None,
    link: str | Path | None = None,
    **opts: Any,
) -> Any:
    """Start a simulator of ``kind``; options: idreader ``card=``, evaluator ``auto_score=``."""
    if kind not in DEFAULT_PROFILES:
        raise ValueError(f"no simulator for {kind!r}; kinds: {', '.join(DEFAULT_PROFILES)}")
    if profile is None or isinstance(profile, str):
        profile = load_profile(profile or DEFAULT_PROFILES[kind], profiles_dir)
    if profile.kind != kind:
        raise ValueError(f"profile {profile.name!r} is for a {profile.kind}, not a {kind}")
    sim: PtySimulator
    if kind == "printer":
        sim = PrinterSimulator(link=link)
        if opts.get("paper_out"):
            sim.set_paper_out(True)
    elif kind == "idreader":
        sim = IdReaderSimulator(card=opts.get("card"), link=link)
    elif kind == "scanner":
        assert isinstance(profile, ScannerProfile)
        sim = ScannerSimulator(suffix=profile.suffix, encoding=profile.encoding, link=link)
    elif kind == "led":
        assert isinstance(profile, LedProfile)
        sim = LedSimulator(profile, link=link)
    else:
        assert isinstance(profile, EvaluatorProfile)
        sim = EvaluatorSimulator(profile, link=link, auto_score=opts.get("auto_score"))
    return sim.start()
