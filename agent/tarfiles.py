"""Reading the project's own tar files (backups, provisioning bundles) safely.

Only regular files with expected names are extracted (no links, no absolute or ``..``
paths): a tampered file cannot write outside the folder. By hand rather than
``extractall(filter=...)``: Debian 12's Python 3.11.2 predates that argument.
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path

from agent.errors import ConfigError


def extract_files(
    source: Path, into: Path, allowed: Callable[[str], bool], required: Iterable[str], what: str
) -> None:
    """Extract ``source`` into ``into``; :class:`ConfigError` when it is not a ``what`` (a
    required name missing, an unexpected entry, not a tar file)."""
    try:
        with tarfile.open(source, "r") as tar:
            members = tar.getmembers()
            missing = [n for n in required if n not in {m.name for m in members}]
            if missing:
                raise ConfigError(f"{source}: not a {what} (missing {missing})")
            for member in members:
                if not member.isfile() or not allowed(member.name):
                    raise ConfigError(f"{source}: unexpected entry {member.name!r}")
                target = into / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                extracted = tar.extractfile(member)
                assert extracted is not None  # a regular file
                with extracted, open(target, "wb") as out:
                    shutil.copyfileobj(extracted, out)
    except (tarfile.TarError, OSError) as exc:
        raise ConfigError(f"{source}: cannot read the {what}: {exc}") from exc
