"""`idle`: standstills of the play-filtered command (of the TCP without one): `idle_fraction`,
`idle_pause_s` (the longest idle excess, s) and `look_s` (the longest look between two movements, judged
by the scorer against the session's own looks, `scorer.LookReference`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality import needs
from sim_teleop.quality.family import FAMILIES, Family, Kind, Source
from sim_teleop.quality.shared import norm as _norm

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup

SAME_WAY_COS = 0.8
"""cos of the angle (~37 degrees) within which motion after a standstill continues the motion before it."""
TAP_M = 0.003
"""A raw command step at least this long, another way than the motion before, during a standstill is a
correction (a keyboard tap: 3-6 mm), not a trembling hand: motion resuming after it follows a look."""


PAUSE = Source("idle_pause_s", 0.95)
"""The longest standstill beyond its allowance (s); the expert's clean ones <= 0.9, a pause defect >= 1.
The scorer divides it by the session's `hesitation_scale` first (1 for an operator who never looks)."""

LOOK = Source("look", 1.0)
"""The longest look / the session's usual look - 1: derived by the scorer (`scorer.LookReference`) from
`look_s`."""


@FAMILIES.register(
    Family(
        name="idle",
        kind=Kind.MOTION,
        sources=(
            PAUSE,
            Source("idle_fraction", 0.35),  # frames standing still beyond the allowances (human p99 0.28)
            LOOK,
        ),
        weight=1.0,
        raw_keys=("idle_fraction", "idle_pause_s", "look_s"),
        needs=needs.motion,
        thresholds={
            "grip_grace_s": 0.8,  # a standstill beginning this soon after a gripper change is a grasp wait
            "start_wait_s": 1.0,  # standing still before the first move: this much is getting ready
            "look_wait_s": 1.5,  # a standstill between two movements (motion resumes another way): a look
        },
    )
)
class IdleMeter:
    """`idle_fraction` and `idle_pause_s`: standstills of the command (of the TCP when there is none).

    Fed the play-filtered step (a trembling hand that holds still is still). Three standstills are part
    of the task, not idling; only their excess over an allowance counts:
    - the wait before the first move (`start_wait_s`: the operator getting ready);
    - the wait around a gripper change (`grasp_wait_s`: the fingers close and the operator checks the
      grasp): the gripper changes during it or it begins within `grip_grace_s` after a change;
    - a look between two movements: motion resumes in another direction (the next axis, the descent
      after the approach, a correction back). A person reacts to what they see and looks before
      descending (0.2-1.7 s), a scripted expert turns at a waypoint in 0.2-0.4 s: how long a look may
      be depends on the operator, so its length is reported (`look_s`, the longest) and judged by the
      scorer against the session's own looks (`scorer.LookReference`); `idle_fraction` allows each
      look `look_wait_s`. A standstill in which the operator tapped a correction another way (a raw
      step of `TAP_M` or more, below the still speed once filtered) is a look too, wherever motion then
      goes: a person stops on the way down, taps the gripper over the cube, and goes on down.
      A pause that interrupts a movement, which then carries on the same way with no correction
      between, is a hesitation and counts from its first frame.
    The command, not the TCP, is what shows an operator's pause: when a command freezes mid-motion the
    TCP coasts on for a few frames, so on the TCP a 1 s pause reads as ~0.7 s.
    """

    __slots__ = (
        "at_start",
        "corrected",
        "dt",
        "grace",
        "grasp_allow",
        "grip",
        "heading",
        "idle",
        "look_allow",
        "look_max",
        "pairs",
        "run",
        "run_max",
        "since_grip",
        "speed",
        "start_allow",
    )

    def __init__(self, th: Mapping[str, float], dt: float) -> None:
        self.dt = dt
        self.speed = th["still_speed"]
        self.grace = round(th["grip_grace_s"] / dt)
        self.grasp_allow = round(th["grasp_wait_s"] / dt)
        self.start_allow = round(th["start_wait_s"] / dt)
        self.look_allow = round(th["look_wait_s"] / dt)
        self.since_grip = 1 << 30  # frames since the last gripper change
        self.at_start = True  # no motion yet
        self.grip = False  # the current standstill is a grasp wait
        self.heading: np.ndarray | None = None  # unit direction of the last moving step
        self.pairs = 0
        self.idle = 0
        self.run = 0
        self.run_max = 0
        self.look_max = 0  # frames of the longest look
        self.corrected = False  # the current standstill held a corrective tap

    def add(
        self,
        step: np.ndarray | None,
        grip_changed: bool,
        first: bool,
        raw_step: np.ndarray | None = None,
    ) -> None:
        """The filtered step of this frame; `grip_changed`: the gripper command changed on this frame;
        `raw_step`: the unfiltered command step (None: no command), where corrective taps show."""
        self.since_grip = 0 if grip_changed else self.since_grip + 1
        if first:
            return
        self.pairs += 1
        length = _norm(step) if step is not None else 0.0
        if step is not None and length / self.dt >= self.speed:
            direction = step / length
            turned = self.heading is not None and float(direction @ self.heading) < SAME_WAY_COS
            look = self.run > 0 and (turned or self.corrected) and not self.at_start and not self.grip
            self.corrected = False
            excess = self._excess(look)
            self.idle += excess
            if look:
                self.look_max = max(self.look_max, self.run)
            else:
                self.run_max = max(self.run_max, excess)
            self.run = 0
            self.at_start = False
            self.heading = direction
            return
        if self.run == 0:
            self.grip = self.since_grip <= self.grace
        self.run += 1
        self.grip = self.grip or grip_changed
        self.corrected = self.corrected or self._tapped(raw_step)

    def _tapped(self, raw_step: np.ndarray | None) -> bool:
        """Whether this standstill frame's raw command step is a corrective tap another way."""
        if raw_step is None:
            return False
        length = _norm(raw_step)
        if length < TAP_M:
            return False
        return self.heading is None or float(raw_step @ self.heading) / length < SAME_WAY_COS

    def _excess(self, look: bool = False) -> int:
        """Frames of the current standstill beyond its allowance; `look`: motion resumed another way."""
        allow = (self.start_allow if self.at_start else 0) + (self.grasp_allow if self.grip else 0)
        return max(0, self.run - (self.look_allow if look else allow))

    def raw(self) -> dict[str, float]:
        excess = self._excess()  # the standstill still open at the end
        return {
            "idle_fraction": (self.idle + excess) / max(self.pairs, 1),
            "idle_pause_s": max(self.run_max, excess) * self.dt,
            "look_s": self.look_max * self.dt,
        }

    ORDER = 30

    @classmethod
    def build(cls, setup: MeterSetup) -> IdleMeter:
        return cls(setup.th, setup.dt)

    def update(self, f: FrameFacts) -> None:
        raw = f.raw_cmd_step if f.c is not None else None
        self.add(f.c_steady if f.c is not None else f.v_steady, f.grip_changed, f.first, raw)
