"""The signals a metric family needs, as predicates over a `SignalLayout`: each returns why the family
cannot be computed on that layout, or None. Families name theirs in their declaration (`Family.needs`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim_teleop.quality.config import SignalLayout

NO_TCP = "no end-effector position in observation.state"
NO_CMD = "no commanded target in action"
NO_MOTION = "no end-effector position or commanded target"
NO_GRIPPER = "no gripper in observation.state or action"
NO_BOUNDS = "no workspace bounds or command limit in the layout"


def _tcp(layout: SignalLayout) -> bool:
    return layout.tcp is not None


def _cmd(layout: SignalLayout) -> bool:
    return layout.action_xyz is not None


def _gripper(layout: SignalLayout) -> bool:
    return layout.state_gripper is not None or layout.action_gripper is not None


def motion(layout: SignalLayout) -> str | None:
    """The TCP or the commanded target."""
    return None if _tcp(layout) or _cmd(layout) else NO_MOTION


def tcp_or_joints(layout: SignalLayout) -> str | None:
    """The TCP, or (offline, without one) the joints read in their episode ranges (`joints`)."""
    return None if _tcp(layout) or layout.joint_ranges else NO_TCP


def tcp(layout: SignalLayout) -> str | None:
    return None if _tcp(layout) else NO_TCP


def command(layout: SignalLayout) -> str | None:
    return None if _cmd(layout) else NO_CMD


def gripper(layout: SignalLayout) -> str | None:
    return None if _gripper(layout) else NO_GRIPPER


def tcp_and_gripper(layout: SignalLayout) -> str | None:
    return tcp(layout) or gripper(layout)


def tcp_and_command(layout: SignalLayout) -> str | None:
    return tcp(layout) or command(layout)


def bounds(layout: SignalLayout) -> str | None:
    """The TCP and the workspace bounds, or the command and its limit."""
    has_tcp, has_cmd = _tcp(layout), _cmd(layout)
    if not has_tcp and not has_cmd:
        return NO_MOTION
    box = has_tcp and layout.workspace_low is not None and layout.workspace_high is not None
    limit = has_cmd and layout.action_xyz_limit is not None
    return None if box or limit else NO_BOUNDS
