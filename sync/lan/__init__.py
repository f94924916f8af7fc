"""The hall LAN plane: terminals on other PCs reach the hub's queue through the hall broker.

:class:`LanServer` runs on the hub, :class:`LanClient` on each kiosk, window station or
display; :mod:`sync.lan.wire` is the contract between them (docs/topics.md, "Hall LAN").
"""

from sync.lan.client import LanClient
from sync.lan.server import LanServer, LanSettings
from sync.lan.wire import BadRequest, HubUnreachable, RemoteError

__all__ = ["BadRequest", "HubUnreachable", "LanClient", "LanServer", "LanSettings", "RemoteError"]
