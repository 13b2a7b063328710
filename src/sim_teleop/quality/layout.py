"""Which physical signals a dataset has, found from its feature names, and which metrics need them.

A dataset recorded by another tool (joint-space actions, no end-effector position, no success flag)
still scores: `infer_layout` locates the signals its names show, `missing_metrics` names each metric
whose signal is absent, and the scorer leaves those out of the score instead of computing them on
whatever column sits at this project's indices.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sim_teleop.messages import ACTION_NAMES, LEGACY_STATE_GRIPPER, STATE_NAMES
from sim_teleop.quality.config import QualityConfig, SignalLayout
from sim_teleop.quality.families import FAMILIES
from sim_teleop.quality.families.camera import FROZEN
from sim_teleop.quality.needs import NO_BOUNDS as NO_BOUNDS
from sim_teleop.quality.needs import NO_CMD as NO_CMD
from sim_teleop.quality.needs import NO_GRIPPER as NO_GRIPPER
from sim_teleop.quality.needs import NO_MOTION as NO_MOTION
from sim_teleop.quality.needs import NO_TCP as NO_TCP

NO_SUCCESS = "no next.success column"
SUCCESS_GATE = "success gate"

EE_WORDS = frozenset({"tcp", "ee", "eef", "end", "effector", "endeffector"})
"""Words naming the end effector (`tcp.x`, `ee_pos_x`, `end_effector.x`)."""
POSITION_WORDS = frozenset({"pos", "position", "xyz"})
COMMAND_WORDS = frozenset({"target", "cmd", "command", "goal"})
"""An action element named `x` or `target.x` is a commanded position; `delta_x` (a step) is not."""

_LEGACY_STATE_NAMES = tuple(LEGACY_STATE_GRIPPER if n == "gripper" else n for n in STATE_NAMES)


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


def _is_axis(name: str, axis: str, allowed: frozenset[str], needs_ee: bool) -> bool:
    """Whether `name` is the `axis` coordinate of an end-effector (or commanded) position."""
    *head, last = _tokens(name) or [""]
    if last != axis or not set(head) <= allowed:
        return False
    return not needs_ee or bool(set(head) & EE_WORDS)


def xyz_indices(names: Sequence[str], action: bool) -> tuple[int, int, int] | None:
    """Indices of the x, y, z of the end effector (state) or of the commanded target (action).

    State names must say end effector (`tcp.x`): a bare `x` in a state may be any object's. In an action
    a bare `x` is the commanded position, as in this project's action."""
    allowed = EE_WORDS | POSITION_WORDS | (COMMAND_WORDS if action else frozenset())
    found = []
    for axis in "xyz":
        index = next((i for i, n in enumerate(names) if _is_axis(n, axis, allowed, not action)), None)
        if index is None:
            return None
        found.append(index)
    return found[0], found[1], found[2]


def gripper_index(names: Sequence[str]) -> int | None:
    """The first element whose name contains "gripper" (not a velocity)."""
    for i, name in enumerate(names):
        tokens = _tokens(name)
        if "gripper" in name.lower() and not any(t.startswith("vel") for t in tokens):
            return i
    return None


def is_own_layout(state_names: Sequence[str], action_names: Sequence[str]) -> bool:
    """This project's names (current or legacy gripper): its calibrated layout applies as configured."""
    return tuple(action_names) == ACTION_NAMES and tuple(state_names) in (STATE_NAMES, _LEGACY_STATE_NAMES)


def infer_layout(
    state_names: Sequence[str], action_names: Sequence[str], configured: SignalLayout
) -> SignalLayout:
    """The layout a dataset's feature names show; `configured` for this project's own names.

    Another dataset's workspace bounds and command limit are unknown (gym-hil's do not apply), so
    saturation is judged only where a config gives them."""
    if is_own_layout(state_names, action_names):
        return configured
    return SignalLayout(
        tcp=xyz_indices(state_names, action=False),
        state_gripper=gripper_index(state_names),
        state_gripper_max=1.0,
        action_xyz=xyz_indices(action_names, action=True),
        action_gripper=gripper_index(action_names),
        action_gripper_max=1.0,
        action_xyz_limit=None,
        workspace_low=None,
        workspace_high=None,
        joint_pos=None,  # the joint-slip coefficients are gym-hil's Panda controller's
        joint_vel=None,
    )


def layout_problems(layout: SignalLayout, state_dim: int | None, action_dim: int | None) -> list[str]:
    """Indices of `layout` beyond the dataset's state/action (an explicit layout for another dataset)."""
    checks = (
        ("tcp", layout.tcp, state_dim),
        ("state_gripper", (layout.state_gripper,), state_dim),
        ("action_xyz", layout.action_xyz, action_dim),
        ("action_gripper", (layout.action_gripper,), action_dim),
        ("joint_pos", layout.joint_pos, state_dim),
        ("joint_vel", layout.joint_vel, state_dim),
    )
    return [
        f"layout.{name}={indices} does not fit a {dim}-D vector"
        for name, indices, dim in checks
        if dim is not None and indices is not None and any(i is not None and i >= dim for i in indices)
    ]


def missing_metrics(layout: SignalLayout) -> dict[str, str]:
    """Metric family -> why it cannot be computed with `layout` (empty for this project's layout), as each
    family declares (`Family.needs`). `slow` (duration, crawl) is always computed; `frozen` needs TCP (or
    joint) motion between two images."""
    return {f.name: why for f in FAMILIES if (why := f.needs(layout)) is not None}


def not_computed(config: QualityConfig) -> dict[str, str]:
    """What `config` cannot score and why, the success gate included (metric -> reason)."""
    missing = missing_metrics(config.layout)
    if not config.cameras:
        missing.pop(FROZEN.name, None)
    if not config.success_gate:
        missing[SUCCESS_GATE] = NO_SUCCESS
    return missing


def not_computed_line(missing: dict[str, str]) -> str:
    """One line, metrics grouped by reason: "not computed: path, idle (no ...); success gate (no ...)"."""
    groups: dict[str, list[str]] = {}
    for metric, reason in missing.items():
        groups.setdefault(reason, []).append(metric)
    if not groups:
        return "not computed: none (every metric and the success gate)"
    return "not computed: " + "; ".join(f"{', '.join(ms)} ({reason})" for reason, ms in groups.items())
