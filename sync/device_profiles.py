"""Device profiles pushed from central, applied while the node runs, on every PC of the hall.

On the hub, the sync stores a signed ``device_profile`` in the data dir's profiles
(:mod:`sync.inbound`) and hands its name and version here (:meth:`ProfileApplier.pushed`);
the hub relays it to the terminals over the hall LAN (retained, on
``hall/v1/{hall}/lan/profile/{name}``, which only the hub's login may write) and re-opens its
own devices that use it. A terminal gets the relayed profile (:meth:`ProfileApplier.relayed`),
takes it only when its version is newer than the last one it took, stores it in its own data
dir's profiles (so a restart opens the devices with it) and re-opens its devices that use it.

Each re-open is health-checked and rolled back when the device does not answer
(:meth:`devices.manager.DeviceManager.reopen`); its outcome becomes a
``DeviceProfileApplied`` command at the hub (from a terminal through the hall LAN), which
the hub's sync reports to central. Work is queued and done on this module's own thread:
paho's and the sync's threads only hand off.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from agent import commands as c
from agent.errors import ConfigError, HallError
from agent.files import write_atomically
from devices.last_good import profile_document
from devices.profiles import AnyProfile, parse_profile
from sync.lan import wire

if TYPE_CHECKING:
    from devices.manager import DeviceManager

log = logging.getLogger(__name__)

Execute = Callable[[c.Command], Any]
Relay = Callable[[str, int, dict[str, Any]], Any]
#: The versions of the profiles a terminal took from the hub, in its profiles folder.
RELAYED_VERSIONS_FILE = "relayed-versions.yaml"
#: A profile outcome the hub could not be told yet is tried again this often, this long.
REPORT_TRIES = 10
REPORT_RETRY_S = 2.0


@dataclass(frozen=True)
class _Pushed:
    """Hub: a profile central pushed (stored already); ``reopen`` False: relay only."""

    name: str
    version: int
    reopen: bool = True


@dataclass(frozen=True)
class _Relayed:
    """Terminal: a profile the hub relayed, as it came off the hall LAN."""

    name: str
    payload: bytes


class ProfileApplier:
    """Queue of profiles to apply to ``manager``'s devices (None: the node has none).

    ``profiles_dir``: the data dir's profiles (where the sync stores pushed ones on the hub,
    where a terminal stores relayed ones). ``relay``: the hub's LAN relay, if it has one.
    Nothing is done before :meth:`start`; what arrives earlier waits in the queue.
    """

    def __init__(self, profiles_dir: Path, relay: Relay | None = None) -> None:
        self.profiles_dir = profiles_dir
        self.relay = relay
        self.manager: DeviceManager | None = None
        self.execute: Execute | None = None
        self._queue: queue.Queue[_Pushed | _Relayed | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- hand-offs (any thread) ----------------------------------------------------------
    def pushed(self, name: str, version: int) -> None:
        """The sync stored profile ``name`` at ``version`` (the hub)."""
        self._queue.put(_Pushed(name, version))

    def relayed(self, name: str, payload: bytes) -> None:
        """The hall LAN brought profile ``name`` from the hub (a terminal)."""
        self._queue.put(_Relayed(name, payload))

    # ---- lifecycle -----------------------------------------------------------------------
    def start(
        self,
        manager: DeviceManager | None,
        execute: Execute,
        stored: dict[str, int] | None = None,
    ) -> ProfileApplier:
        """Apply from now on; ``stored`` (the hub's pushed profiles and their versions) are
        relayed again at once, so a terminal that missed one gets it (an equal version is a
        duplicate there)."""
        self.manager, self.execute = manager, execute
        for name, version in sorted((stored or {}).items()):
            self._queue.put(_Pushed(name, version, reopen=False))
        self._thread = threading.Thread(target=self._run, name="profile-applier", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)

    # ---- the worker ----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            try:
                if isinstance(item, _Pushed):
                    self._on_pushed(item)
                else:
                    self._on_relayed(item)
            except Exception:  # one bad profile must not stop the next ones
                log.exception("device profile %s not applied", item.name)

    def _on_pushed(self, item: _Pushed) -> None:
        path = self.profiles_dir / f"{item.name}.yaml"
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            profile = parse_profile(document, str(path))
        except (OSError, yaml.YAMLError, ConfigError) as exc:
            log.error("device profile %s v%d unreadable: %s", item.name, item.version, exc)
            return
        if self.relay is not None:
            self.relay(item.name, item.version, profile_document(profile))
        if item.reopen:
            self._apply(item.name, item.version, profile)

    def _on_relayed(self, item: _Relayed) -> None:
        try:
            relayed = wire.parse_profile_payload(item.payload, item.name)
            profile = parse_profile(relayed.profile, f"relayed profile {item.name}")
        except (wire.BadRequest, ConfigError) as exc:
            log.warning("relayed profile %s refused: %s", item.name, exc)
            return
        versions = self._relayed_versions()
        known = versions.get(item.name, 0)
        if relayed.version <= known:
            if relayed.version < known:
                log.warning(
                    "relayed profile %s v%d refused: v%d taken already",
                    item.name,
                    relayed.version,
                    known,
                )
            return
        self._store(item.name, relayed.profile)
        self._save_versions({**versions, item.name: relayed.version})
        self._apply(item.name, relayed.version, profile)

    def _apply(self, name: str, version: int, profile: AnyProfile) -> None:
        manager = self.manager
        if manager is None:
            return
        for device in manager.using(name):
            if manager.profile(device).kind != profile.kind:
                log.error("device %s: profile %s is a %s profile", device, name, profile.kind)
                continue
            outcome = manager.reopen(device, profile)
            reason = None if outcome.reason is None else outcome.reason[:256]
            self._report(c.DeviceProfileApplied(device, name, version, outcome.outcome, reason))

    def _report(self, command: c.DeviceProfileApplied) -> None:
        """Record the outcome at the hub, again while it cannot be reached (bounded)."""
        assert self.execute is not None
        for _ in range(REPORT_TRIES):
            try:
                self.execute(command)
                return
            except HallError as exc:
                if exc.code not in ("hub_unreachable", "disk_full"):
                    log.warning("profile outcome of %s refused: %s", command.device, exc)
                    return
            except TimeoutError:
                pass
            if self._stop.wait(REPORT_RETRY_S):
                return
        log.error("profile outcome of %s not recorded: the hub did not answer", command.device)

    # ---- a terminal's own record ---------------------------------------------------------
    def _relayed_versions(self) -> dict[str, int]:
        path = self.profiles_dir / RELAYED_VERSIONS_FILE
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, yaml.YAMLError) as exc:
            log.warning("%s unreadable (%s): every relayed profile is taken again", path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, int)}

    def _save_versions(self, versions: dict[str, int]) -> None:
        self.profiles_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(self.profiles_dir / RELAYED_VERSIONS_FILE, yaml.safe_dump(versions))

    def _store(self, name: str, document: dict[str, Any]) -> None:
        self.profiles_dir.mkdir(parents=True, exist_ok=True)
        header = "# relayed by the hub from a signed central device profile; do not edit here\n"
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
        write_atomically(self.profiles_dir / f"{name}.yaml", header + text)
