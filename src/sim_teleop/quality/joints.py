"""Motion and action spikes of a layout without an end-effector position (joint-space arms of other
datasets), measured in each dimension's own range over the episode.

A joint-space dataset's units are unknown (radians, degrees, motor ticks), so no metre threshold applies.
Offline the whole episode is known before it is scored: each state or action dimension's range over the
episode is its scale, and a step is read as the fraction of that range it covers. Then:

- `JointTravel`: how far the joints went (mean over the moving dimensions of |step| / range, summed over
  frames; a monotonic sweep of every joint is 1.0), which the camera meters compare images against when
  there is no TCP: a camera whose image stays the same while the joints go 10 % of their way is stuck.
- `ActionSpikeMeter` (`spike_action`): the largest one-frame out-and-back of any action dimension, as a
  fraction of that dimension's range: smooth motion has none, a teleoperator's noise reverses by a
  percent or two, a spike by a large part of the range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality.family import FAMILIES
from sim_teleop.quality.shared import Travel

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


def ranges(values: np.ndarray, skip: int | None = None) -> np.ndarray:
    """Per-dimension range (max - min) of an episode's (T, D) array; 0 for `skip` (the gripper) and for
    dimensions that never move (they carry no motion)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or len(arr) == 0:
        return np.zeros(0)
    span = arr.max(axis=0) - arr.min(axis=0)
    if skip is not None and 0 <= skip < len(span):
        span[skip] = 0.0
    span[~np.isfinite(span)] = 0.0
    return span


@FAMILIES.meter
class JointTravel:
    """The joints' travel since the episode began, in fractions of their ranges (see module docstring)."""

    __slots__ = ("moving", "prev", "scale", "travel")

    def __init__(self, scale: np.ndarray) -> None:
        self.moving = scale > 0.0
        self.scale = np.where(self.moving, scale, 1.0)
        self.prev: np.ndarray | None = None
        self.travel = 0.0

    def add(self, state: np.ndarray) -> Travel:
        s = np.asarray(state, dtype=np.float64)
        if self.prev is not None and self.moving.any() and len(s) == len(self.scale):
            step = np.abs(s - self.prev) / self.scale
            self.travel += float(step[self.moving].mean())
        self.prev = s
        # no gripper view geometry without a TCP: all of it is "sideways" view motion
        at = s[self.moving] / self.scale[self.moving] if len(s) == len(self.scale) else None
        return Travel(self.travel, self.travel, 0.0, at, joints=True)

    ORDER = 160  # after the path meter: its travel replaces the TCP's for the camera meters

    @classmethod
    def build(cls, setup: MeterSetup) -> JointTravel | None:
        return cls(setup.state_scale) if setup.state_scale is not None else None

    def update(self, f: FrameFacts) -> None:
        f.travel = self.add(f.state)

    def raw(self) -> dict[str, float]:
        return {}


@FAMILIES.meter
class ActionSpikeMeter:
    """`spike_action`: the largest one-frame out-and-back of an action dimension, in its range."""

    __slots__ = ("moving", "peak", "prev", "prev_step", "scale")

    def __init__(self, scale: np.ndarray) -> None:
        self.moving = scale > 0.0
        self.scale = np.where(self.moving, scale, 1.0)
        self.prev: np.ndarray | None = None
        self.prev_step: np.ndarray | None = None
        self.peak = 0.0

    def add(self, action: np.ndarray) -> None:
        a = np.asarray(action, dtype=np.float64)
        if len(a) != len(self.scale):
            return
        if self.prev is not None:
            step = (a - self.prev) / self.scale
            if self.prev_step is not None:
                back = (step * self.prev_step < 0.0) & self.moving
                if back.any():
                    out = np.minimum(np.abs(step), np.abs(self.prev_step))[back]
                    self.peak = max(self.peak, float(out.max()))
            self.prev_step = step
        self.prev = a

    def raw(self) -> dict[str, float]:
        return {"spike_action": self.peak}

    ORDER = 150

    @classmethod
    def build(cls, setup: MeterSetup) -> ActionSpikeMeter | None:
        return cls(setup.action_scale) if setup.action_scale is not None else None

    def update(self, f: FrameFacts) -> None:
        self.add(f.action)
