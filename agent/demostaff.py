"""Staff for the demos (the simulated day and the demo hall): a member of staff signed in at
each window by 工号 and PIN, as a staffed hall runs."""

from __future__ import annotations

import dataclasses

from agent.node_runtime import Node
from agent.staffauth import Credentials
from agent.staffconfig import StaffMember

DEMO_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def demo_staff(node: Node) -> tuple[Node, dict[int, tuple[str, str]]]:
    """The node with a member of staff for each window (the hall's own staff list if it has
    one, else ``D-01``… with masked names) and their PINs at the hub: ``{window: (id, pin)}``."""
    hall = node.hall
    if not hall.staff.members:
        members = [
            StaffMember(
                id=f"D-{w.number:02d}",
                name=DEMO_SURNAMES[i % len(DEMO_SURNAMES)] + "*",
                windows=[w.number],
            )
            for i, w in enumerate(hall.windows)
        ]
        staff = hall.staff.model_copy(update={"members": members})
        hall = hall.model_copy(update={"staff": staff})
    credentials = Credentials(node.data.root)
    at_windows: dict[int, tuple[str, str]] = {}
    free = list(hall.staff.members)
    for window in hall.windows:
        member = next((m for m in free if not m.windows or window.number in m.windows), None)
        if member is None:
            continue
        free.remove(member)
        pin = f"{900000 + window.number:06d}"
        credentials.set_pin(member.id, pin)
        at_windows[window.number] = (member.id, pin)
    return dataclasses.replace(node, hall=hall), at_windows
