"""What every meter reads of one recorded frame (`FrameFacts`), filled once per frame by `FrameReader`.

The reader picks the physical signals out of the state and action (TCP and commanded xyz in m, gripper
command 0..1), their steps, the tremor-filtered (play) command and TCP, and whether the sample is stale
(a repeated state, a skipped frame number). Meters then add facts for the meters after them: the gripper
meter whether the gripper changed, closed or opened, the path meter the TCP's travel, the jump meter
whether the previous step held two frames of motion.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality.shared import PlayFilter, Travel, clip01

if TYPE_CHECKING:
    from sim_teleop.quality.config import SignalLayout


class GripEvent(enum.Enum):
    CLOSED = "closed"
    OPENED = "opened"


class SignalReader:
    """Picks the physical signals out of one frame: TCP and commanded xyz (m), gripper command (0..1)."""

    __slots__ = ("axyz_idx", "grip_action", "grip_state", "tcp_idx")

    def __init__(self, layout: SignalLayout) -> None:
        self.tcp_idx = list(layout.tcp) if layout.tcp is not None else None
        self.axyz_idx = list(layout.action_xyz) if layout.action_xyz is not None else None
        # (index, full scale) of the gripper command: the action's when it has one, else the state's.
        self.grip_action = (
            (layout.action_gripper, layout.action_gripper_max) if layout.action_gripper is not None else None
        )
        self.grip_state = (
            (layout.state_gripper, layout.state_gripper_max) if layout.state_gripper is not None else None
        )

    def read(
        self, state: np.ndarray, action: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray | None, float | None]:
        """(p, c, g) of one frame; None for a signal the layout does not have."""
        state = np.asarray(state, dtype=np.float64)
        action = np.asarray(action, dtype=np.float64)
        p = state[self.tcp_idx] if self.tcp_idx is not None else None
        c = action[self.axyz_idx] if self.axyz_idx is not None else None
        if self.grip_action is not None:
            g: float | None = clip01(float(action[self.grip_action[0]]) / self.grip_action[1])
        elif self.grip_state is not None:
            g = clip01(float(state[self.grip_state[0]]) / self.grip_state[1])
        else:
            g = None
        return p, c, g


@dataclass(frozen=True)
class MeterSetup:
    """What a meter is built from: the thresholds, the frame period, the layout, and offline for a
    layout without a TCP the episode's per-dimension state and action ranges (`joints`)."""

    th: Mapping[str, float]
    dt: float
    layout: SignalLayout
    state_scale: np.ndarray | None = None
    action_scale: np.ndarray | None = None
    learn_cameras: bool = False  # the cameras' levels are learnt from the session (`CameraLevels`)

    @property
    def has_tcp(self) -> bool:
        return self.layout.tcp is not None

    @property
    def has_cmd(self) -> bool:
        return self.layout.action_xyz is not None

    @property
    def joints(self) -> bool:
        return self.state_scale is not None


class FrameFacts:
    """One recorded frame as the meters read it (one object, refilled every frame)."""

    __slots__ = (
        "acted",
        "action",
        "c",
        "c_steady",
        "carrying",
        "contact_force",
        "cube_pose",
        "first",
        "g",
        "grip_changed",
        "grip_event",
        "images",
        "index",
        "jumped",
        "p",
        "raw_cmd_step",
        "repeated",
        "stale",
        "stalled",
        "state",
        "steady_cmd",
        "steady_tcp",
        "travel",
        "v",
        "v_steady",
    )

    def __init__(self) -> None:
        self.index = 0
        self.first = True  # the episode's first frame
        self.state: np.ndarray = np.zeros(0)
        self.action: np.ndarray = np.zeros(0)
        self.p: np.ndarray | None = None  # TCP (m)
        self.c: np.ndarray | None = None  # commanded target (m)
        self.g: float | None = None  # gripper command (0..1)
        self.contact_force: float | None = None
        self.cube_pose: np.ndarray | None = None
        self.images: Mapping[str, np.ndarray] | None = None
        self.v: np.ndarray | None = None  # the TCP's step from its previous point
        self.raw_cmd_step: np.ndarray | None = None  # the command's step from the previous frame
        self.v_steady: np.ndarray | None = None  # the play-filtered TCP's step
        self.c_steady: np.ndarray | None = None  # the play-filtered command's step
        self.steady_cmd: np.ndarray | None = None  # the play-filtered command (None without a command)
        self.steady_tcp: np.ndarray | None = None  # the play-filtered TCP (its last value)
        self.repeated = False  # the state repeats the previous one bit for bit
        self.acted = False  # ... while the action changed
        self.stale = False  # the TCP step does not span one frame of motion (repeat, skip, after a repeat)
        # The sim skipped ticks before this frame (a loaded machine; live from the frames' tick stamps,
        # offline from the recorder's sidecar): a person's keys kept moving the target in wall time.
        self.stalled = False
        # Left by meters for the ones after them:
        self.grip_changed = False  # the gripper command changed on this frame (`gripper`)
        self.carrying = False  # the gripper held the cube before this frame (`gripper`)
        self.grip_event: GripEvent | None = None  # this frame closed or opened the gripper (`gripper`)
        self.jumped = False  # the previous TCP step held two frames of motion (`gap`)
        self.travel = Travel(0.0, 0.0, 0.0)  # the TCP's (or joints') travel so far (`path`, `joints`)


class FrameReader:
    """Fills `FrameFacts` from a frame's state and action: signals, steps, filters, staleness."""

    __slots__ = (
        "facts",
        "last_index",
        "prev_action",
        "prev_c",
        "prev_p",
        "prev_repeated",
        "prev_state",
        "signals",
        "steady_cmd",
        "steady_tcp",
    )

    def __init__(self, layout: SignalLayout, play: float) -> None:
        self.signals = SignalReader(layout)
        self.steady_tcp = PlayFilter(play)
        self.steady_cmd = PlayFilter(play)
        self.facts = FrameFacts()
        self.prev_p: np.ndarray | None = None
        self.prev_c: np.ndarray | None = None
        self.prev_state: np.ndarray | None = None
        self.prev_action: np.ndarray | None = None
        self.prev_repeated = False
        self.last_index: int | None = None

    def read(self, state: np.ndarray, action: np.ndarray, index: int, first: bool) -> FrameFacts:
        f = self.facts
        f.index, f.first, f.state, f.action = index, first, state, action
        p, c, g = self.signals.read(state, action)
        f.p, f.c, f.g = p, c, g
        # A stale sample (`telemetry_freeze`, `gap`): the state repeats, or frame numbers skip.
        prev_state, prev_action = self.prev_state, self.prev_action
        repeated = prev_state is not None and _equal(state, prev_state)
        f.repeated = repeated
        f.acted = repeated and prev_action is not None and not _equal(action, prev_action)
        self.prev_state = np.array(state, copy=True)
        self.prev_action = np.array(action, copy=True)
        last = self.last_index
        skipped = last is not None and index > last + 1
        self.last_index = index if last is None else max(last, index)
        f.stale, self.prev_repeated = repeated or skipped or self.prev_repeated, repeated
        f.raw_cmd_step = None if c is None or self.prev_c is None else c - self.prev_c
        self.prev_c = c
        if p is not None:
            f.v = None if self.prev_p is None else p - self.prev_p
            self.prev_p = p
        else:
            f.v = None
        # The hand's tremor filtered out (see `PlayFilter`): what the standstill tests look at.
        f.v_steady = self.steady_tcp.add(p) if p is not None else None
        f.c_steady = self.steady_cmd.add(c) if c is not None else None
        f.steady_cmd = self.steady_cmd.y if c is not None else None
        f.steady_tcp = self.steady_tcp.y
        f.grip_changed, f.grip_event, f.jumped = False, None, False
        return f


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    """`np.array_equal` of two vectors, without its generic checks (~3x faster, twice a frame)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool((a == b).all())
