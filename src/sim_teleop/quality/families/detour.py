"""`detour`: how far the command went out of its way and came back (m). Its path is cut into movements at
standstills longer than `detour_turn_s` and at gripper changes; per movement, half of (distance travelled
- net displacement) summed over the axes. A straight move, an L-shaped or a curved one (each axis
monotonic) scores 0; a stop-and-turn at a waypoint starts a new movement; an excursion that goes 5 cm out
and comes back scores 0.05 m, even through the one zero-velocity frame at its far end. Needs the
commanded target: the TCP lags the command and rounds off every waypoint stop, so on the TCP alone clean
approaches look like excursions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality import needs
from sim_teleop.quality.family import FAMILIES, Family, Kind, Source
from sim_teleop.quality.shared import Median3, PlayFilter
from sim_teleop.quality.shared import norm as _norm

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup

RETRACE_AXIS_M = 0.005
"""m an axis must come back within a movement to count as retraced (for the overshoot test)."""


class RetraceMeter:
    """Distance gone out and back within continuous motion (`detour` in the module docstring), O(1) a point.

    Per movement it keeps the start, the latest point and the per-axis distance travelled; a movement
    ends after more than `join` consecutive still steps (a turn through zero velocity lasts one sample)
    or at `cut()`. When one axis alone came back, by at most `overshoot` (m), and it carried the
    movement, that is a person's overshoot corrected back (a key let go late, then a tap): not a detour.
    An excursion (out sideways and back while moving on, as the planted detours go sideways and up)
    comes back on two axes at once.
    """

    __slots__ = ("done", "end", "join", "moving", "overshoot", "start", "still", "still_run", "travel")

    def __init__(self, still: float, join: int, overshoot: float = 0.0) -> None:
        self.still = still  # a step at most this long (m) is standing still
        self.join = join
        self.overshoot = overshoot
        self.done = 0.0
        self.start: np.ndarray | None = None
        self.end: np.ndarray | None = None
        self.travel = np.zeros(3)
        self.moving = False
        self.still_run = 0

    def add(self, c: np.ndarray, step: np.ndarray | None, moving: bool | None = None) -> None:
        """Point `c`, reached by `step` from the previous point (None for the first point); `moving`
        overrides the test of the step's length against `still`."""
        if step is None:
            return
        if (_norm(step) > self.still) if moving is None else moving:
            if not self.moving:
                self.moving, self.start, self.travel = True, c - step, np.zeros(3)
            self.still_run = 0
        else:
            self.still_run += 1
            if self.still_run > self.join:
                self.cut()
                return
        if self.moving:
            self.travel += np.abs(step)
            self.end = c

    def cut(self) -> None:
        """End the current movement (a gripper change: reaching down then lifting is not a detour)."""
        self.done += self._open()
        self.moving = False

    def _open(self) -> float:
        if not self.moving or self.start is None or self.end is None:
            return 0.0
        net = np.abs(self.end - self.start).tolist()
        backs = [max(0.0, 0.5 * (t - g)) for t, g in zip(self.travel.tolist(), net, strict=True)]
        out = sum(backs)
        retraced = [a for a, b in enumerate(backs) if b > RETRACE_AXIS_M]
        if len(retraced) == 1:  # one axis came back (a key let go late, then a tap), not an excursion
            a = retraced[0]
            if backs[a] <= self.overshoot and net[a] > backs[a]:
                out -= backs[a]
        return out

    @property
    def value(self) -> float:
        return self.done + self._open()


@FAMILIES.register(
    Family(
        name="detour",
        kind=Kind.MOTION,
        # m out and back within one commanded movement; clean 0 (expert, human), bump >= 0.015
        sources=(Source("detour", 0.012),),
        weight=1.0,
        raw_keys=("detour",),
        needs=needs.command,
        thresholds={
            # m: one axis that carried a movement may come back this far (an overshoot) without a detour;
            # the planted 4-12 cm detour bumps retrace 1.5-3.7 cm once filtered, but on two axes at once
            "detour_overshoot": 0.03,
            "detour_turn_s": 0.1,  # s: a standstill this short is a turning point in a movement, not a stop
            "turn_speed": 0.03,  # m/s: an unfiltered command faster than this is turning, not standing
        },
    )
)
class DetourMeter:
    """`detour`: the command's retraced distance, a new movement at every gripper change.

    `add_command` reads the raw command: a one-frame spike is the spike metric's, not an excursion, so
    it is despiked (median of 3, one frame late) and then tremor-filtered; the raw step that tells a
    turn from a stop and the gripper cut are delayed by the same frame.
    """

    __slots__ = ("despike", "points", "prev_grip_changed", "prev_raw_step", "retrace", "steady", "turn_step")

    def __init__(self, th: Mapping[str, float], dt: float) -> None:
        self.retrace = RetraceMeter(
            th["still_speed"] * dt, max(1, int(th["detour_turn_s"] / dt + 1e-9)), th["detour_overshoot"]
        )
        self.turn_step = th["turn_speed"] * dt
        self.points = 0
        self.despike = Median3()
        self.steady = PlayFilter(th["play"])
        self.prev_raw_step: np.ndarray | None = None
        self.prev_grip_changed = False

    def add_command(self, c: np.ndarray, raw_step: np.ndarray | None, grip_changed: bool) -> None:
        """The raw command `c` of this frame, reached by `raw_step`; `grip_changed` on this frame."""
        step = self.steady.add(self.despike.add(c))
        assert self.steady.y is not None
        self.add(self.steady.y, step, self.prev_raw_step, self.prev_grip_changed)
        self.prev_raw_step, self.prev_grip_changed = raw_step, grip_changed

    def add(
        self, c: np.ndarray, step: np.ndarray | None, raw_step: np.ndarray | None, grip_changed: bool
    ) -> None:
        """The filtered command `c`, reached by `step`; `raw_step`: the unfiltered command's step.

        Standing still takes both: the filtered command stands (the hand only trembles) and the raw
        one moves less than `turn_speed`. At the far end of an excursion the filters stand for a frame
        or two (they trail a reversal) while the raw command already moves back fast: a turn, not a stop.
        """
        self.points += 1
        if grip_changed:
            self.retrace.cut()  # the step that comes with a gripper change begins a new movement
        moving = None
        if step is not None and raw_step is not None:
            moving = _norm(step) > self.retrace.still or _norm(raw_step) > self.turn_step
        self.retrace.add(c, step, moving)

    def raw(self) -> dict[str, float]:
        return {"detour": self.retrace.value} if self.points else {}

    ORDER = 70

    @classmethod
    def build(cls, setup: MeterSetup) -> DetourMeter | None:
        return cls(setup.th, setup.dt) if setup.has_cmd else None

    def update(self, f: FrameFacts) -> None:
        if f.c is not None:
            self.add_command(f.c, f.raw_cmd_step, f.grip_changed)
