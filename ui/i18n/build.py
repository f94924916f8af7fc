"""Build step for translations: ``python -m ui.i18n.build``.

1. ``pyside6-lupdate`` collects every ``tr()``/``translate()`` string of ui/ into ``zh_CN.ts``
   (existing translations are kept; new strings appear as unfinished);
2. ``pyside6-lrelease`` compiles the ``.ts`` into the ``.qm`` the app loads.

``--check`` fails when a string has no finished translation.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

I18N_DIR = Path(__file__).resolve().parent
UI_DIR = I18N_DIR.parent
TS_FILES = [I18N_DIR / "zh_CN.ts"]


def _tool(name: str) -> str:
    local = Path(sys.executable).with_name(name)
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found (it ships with PySide6)")
    return found


def sources() -> list[Path]:
    return sorted(p for p in UI_DIR.rglob("*.py") if "i18n" not in p.parts)


def unfinished(ts: Path) -> list[str]:
    """Source strings of ``ts`` without a finished translation."""
    missing = []
    for message in ET.parse(ts).getroot().iter("message"):
        translation = message.find("translation")
        source = message.findtext("source") or ""
        if translation is None or translation.get("type") in ("unfinished", "obsolete"):
            if translation is None or translation.get("type") != "obsolete":
                missing.append(source)
        elif not (translation.text or "").strip():
            missing.append(source)
    return missing


def update() -> None:
    files = [str(p.relative_to(UI_DIR)) for p in sources()]
    for ts in TS_FILES:
        subprocess.run(
            [
                _tool("pyside6-lupdate"),
                *files,
                "-no-obsolete",
                "-locations",
                "none",
                "-ts",
                str(ts),
            ],
            check=True,
            cwd=UI_DIR,
        )


def release() -> None:
    for ts in TS_FILES:
        subprocess.run(
            [_tool("pyside6-lrelease"), str(ts), "-qm", str(ts.with_suffix(".qm"))], check=True
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.i18n.build")
    parser.add_argument("--no-update", action="store_true", help="only compile the .ts files")
    parser.add_argument("--check", action="store_true", help="fail on unfinished translations")
    args = parser.parse_args(argv)
    if not args.no_update:
        update()
    release()
    if args.check:
        bad = {ts.name: unfinished(ts) for ts in TS_FILES}
        bad = {name: items for name, items in bad.items() if items}
        for name, items in bad.items():
            print(f"{name}: {len(items)} unfinished: {items[:5]}", file=sys.stderr)
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
