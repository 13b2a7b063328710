"""`gap`: `missing_frames`, frame numbers (from timestamps offline, frame indices live) that skip: dropped
frames or a timestamp gap; `step_jumps`: frames where the TCP and the command both moved about twice
what the frames around them did; and `joint_slip`: joints that moved more than their own velocities
explain - both rows dropped from a dataset whose timestamps were then written continuous (LeRobot's
writer numbers frames itself), so only the motion shows the hole."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality.family import FAMILIES, Family, Kind, Source
from sim_teleop.quality.shared import norm

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


GAP = Family(
    name="gap",
    kind=Kind.INTEGRITY,
    sources=(
        Source("missing_frames", 0.5),  # frames skipped by the frame numbers: any is a gap
        Source("step_jumps", 0.5),  # rows whose TCP and command both moved two frames' worth: any is a gap
        Source("joint_slip", 2.0),  # a joint step this many times what its velocities allow is a hole
    ),
    weight=1.0,
    raw_keys=("missing_frames", "step_jumps", "joint_slip"),
    thresholds={
        "jump_ratio": 1.6,  # a step this many times its neighbours' mean (TCP and command both) ...
        "jump_min_step": 0.005,  # ... and longer than this (m) is two frames of motion in one row
        # A joint step is dt x (slip_prev x the previous velocity + slip_cur x this one), as gym-hil's
        # Panda controller moves (least squares over 90 clean episodes of three operators: residual 4 %
        # of the step); what is left over is judged against slip_accel x dt x the velocity change (a
        # new command, a contact) + slip_floor (rad).
        "slip_prev": 0.32,
        "slip_cur": 0.86,
        "slip_accel": 0.5,
        "slip_floor": 0.004,
        "slip_grip_frames": 3,  # from a gripper change, for this many steps (the fingers meet the cube) ...
        "slip_grip_allow": 1.5,  # ... a step may leave this many times as much unexplained
    },
)
"""Frames missing from the recording, by their numbers or by the motion."""


@FAMILIES.register(GAP)
class GapMeter:
    """`missing_frames`: frame numbers skipped between consecutive recorded frames."""

    __slots__ = ("missing", "prev")

    def __init__(self) -> None:
        self.prev: int | None = None
        self.missing = 0

    def add(self, index: int) -> None:
        if self.prev is not None and index > self.prev + 1:
            self.missing += index - self.prev - 1
        self.prev = index if self.prev is None else max(self.prev, index)

    def raw(self) -> dict[str, float]:
        return {"missing_frames": float(self.missing)}

    ORDER = 110

    @classmethod
    def build(cls, setup: MeterSetup) -> GapMeter:
        return cls()

    def update(self, f: FrameFacts) -> None:
        self.add(f.index)


@FAMILIES.meter
class JumpMeter:
    """`step_jumps`: frames whose TCP step and command step both exceed `jump_ratio` x the mean of
    their neighbours' (and `jump_min_step`) and go on in the neighbours' direction: two frames of
    motion in one row. Under constant acceleration a step is the mean of its neighbours, so ramps do
    not count; a spike comes straight back (against the direction), and a stalled state jumps without
    its command. While the arm catches up with a command that stands still, the TCP alone counts -
    except around a gripper change (`grasp_wait_s`), where the fingers closing on the cube, pressed
    onto the table by a keyboard operator, make the TCP pop up by a few millimetres."""

    __slots__ = ("grasp_frames", "jumps", "min_step", "ratio", "recent", "since_grip", "still")

    def __init__(self, th: Mapping[str, float], dt: float) -> None:
        self.ratio = th["jump_ratio"]
        self.min_step = th["jump_min_step"]
        self.still = th["still_speed"] * dt
        self.grasp_frames = round(th["grasp_wait_s"] / dt)
        self.since_grip = 1 << 30  # frames since the last gripper change
        self.recent: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=3)
        self.jumps = 0

    def add(
        self, tcp_step: np.ndarray | None, cmd_step: np.ndarray | None, grip_changed: bool = False
    ) -> bool:
        """Add this frame's steps; returns whether the previous frame's step was a jump."""
        self.since_grip = 0 if grip_changed else self.since_grip + 1
        if tcp_step is None or cmd_step is None:
            self.recent.clear()
            return False
        self.recent.append((tcp_step, cmd_step))
        if len(self.recent) < 3:
            return False
        (p0, c0), (p1, c1), (p2, c2) = self.recent
        standing = max(norm(c0), norm(c1), norm(c2)) <= self.still and self.since_grip > self.grasp_frames
        if self._jump(p0, p1, p2) and (standing or self._jump(c0, c1, c2)):
            self.jumps += 1
            return True
        return False

    def _jump(self, before: np.ndarray, middle: np.ndarray, after: np.ndarray) -> bool:
        around = before + after
        m = norm(middle)
        onward = float(middle @ around) > 0.5 * m * norm(around)  # within 60 degrees of the motion
        return m > self.min_step and m > self.ratio * 0.5 * (norm(before) + norm(after)) and onward

    def raw(self) -> dict[str, float]:
        return {"step_jumps": float(self.jumps)}

    ORDER = 120  # before the spike meter, which drops the accelerations of a jumped step

    @classmethod
    def build(cls, setup: MeterSetup) -> JumpMeter | None:
        return cls(setup.th, setup.dt) if setup.has_cmd and setup.has_tcp else None

    def update(self, f: FrameFacts) -> None:
        f.jumped = self.add(None if f.repeated else f.v, f.raw_cmd_step, f.grip_changed)


@FAMILIES.meter
class JointSlipMeter:
    """`joint_slip`: the largest joint step left unexplained by the joint velocities at its two ends,
    in units of what a clean step leaves (`slip_accel` x dt x the velocity change + `slip_floor`). A
    row dropped from a moving arm leaves a whole step of motion unexplained (ratio 2-30); clean steps
    leave at most ~1.3 (90 in-process episodes of three operators). It sees holes the TCP jump test
    misses (the arm speeding up or slowing down across the hole), and a sim stalled under load does not
    fool it (each handled tick steps the physics once, so the joints stay consistent with their
    velocities). A hole where nothing moved shows in no signal. Stale rows (a repeated state, skipped
    frame numbers) are not judged: `telemetry_freeze` and `missing_frames` name them. From a gripper
    change to `slip_grip_frames` after it, the fingers closing on the cube (pressed onto the table by a
    keyboard operator) push the arm off its controller's course (up to 1.9 on clean keyboard-model
    episodes there; 1.04 elsewhere), so a step may leave `slip_grip_allow` times as much; not judging
    those steps at all lost the holes at the grasp (AUROC 0.94 -> 0.87 in-process). Only on this
    project's layout: the coefficients are gym-hil's."""

    __slots__ = (
        "accel",
        "cur",
        "floor",
        "grip_allow",
        "grip_frames",
        "pos",
        "prev",
        "prev_q",
        "prev_qd",
        "since_grip",
        "top",
        "vel",
        "worst",
    )

    def __init__(
        self, th: Mapping[str, float], dt: float, pos: tuple[int, ...], vel: tuple[int, ...]
    ) -> None:
        self.prev, self.cur = th["slip_prev"] * dt, th["slip_cur"] * dt
        self.accel, self.floor = th["slip_accel"] * dt, th["slip_floor"]
        self.grip_frames = round(th["slip_grip_frames"])
        self.grip_allow = th["slip_grip_allow"]
        self.since_grip = 1 << 30  # frames since the last gripper change
        self.pos, self.vel = list(pos), list(vel)
        self.top = max(self.pos + self.vel)
        self.prev_q: np.ndarray | None = None
        self.prev_qd: np.ndarray | None = None
        self.worst = 0.0

    def add(self, state: np.ndarray, stale: bool, grip_changed: bool = False) -> None:
        if state.shape[0] <= self.top:  # a layout for a shorter state (another robot's) has no joints here
            self.pos = []
            return
        self.since_grip = 0 if grip_changed else self.since_grip + 1
        q = np.asarray(state[self.pos], dtype=np.float64)
        qd = np.asarray(state[self.vel], dtype=np.float64)
        if not stale and self.prev_q is not None and self.prev_qd is not None:
            left = norm(q - self.prev_q - self.prev * self.prev_qd - self.cur * qd)
            allowed = self.accel * norm(qd - self.prev_qd) + self.floor
            if self.since_grip < self.grip_frames:
                allowed *= self.grip_allow
            self.worst = max(self.worst, left / allowed)
        self.prev_q, self.prev_qd = q, qd

    def raw(self) -> dict[str, float]:
        return {"joint_slip": self.worst} if self.pos else {}

    ORDER = 125

    @classmethod
    def build(cls, setup: MeterSetup) -> JointSlipMeter | None:
        pos, vel = setup.layout.joint_pos, setup.layout.joint_vel
        if pos is None or vel is None or len(pos) != len(vel):
            return None
        return cls(setup.th, setup.dt, pos, vel)

    def update(self, f: FrameFacts) -> None:
        if self.pos:
            self.add(np.asarray(f.state), f.stale, f.grip_changed)
