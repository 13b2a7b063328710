"""`path`: the TCP's path sampled every `path_stride` frames over the ideal path, - 1. Horizontally the
ideal is the straight start -> grasp point -> end, axis by axis; vertically, an approach may rise to a
safe height and then descend, and a lift only rises, so every vertical motion against that (rising again
after descending, sinking while carrying) is a detour counted twice (out and back); the rest of the
vertical path is needed. Its meter also sums the every-frame TCP path (`travel`), which the camera meters
compare images against."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality import needs
from sim_teleop.quality.family import FAMILIES, Family, Kind, Source
from sim_teleop.quality.frame import GripEvent
from sim_teleop.quality.shared import Travel
from sim_teleop.quality.shared import norm as _norm

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


def _leg(a: np.ndarray, b: np.ndarray) -> float:
    """Ideal horizontal length of one leg (start -> grasp, grasp -> end), axis by axis: a keyboard
    drives x and y one arrow at a time, and an L-shaped approach is as direct as a diagonal one."""
    return float(abs(b[0] - a[0]) + abs(b[1] - a[1]))


@FAMILIES.register(
    Family(
        name="path",
        kind=Kind.MOTION,
        # TCP path length / ideal path length - 1; clean expert p99 0.27, human (overshoots) 0.32
        sources=(Source("path", 0.40),),
        weight=1.0,
        raw_keys=("path_length_m", "path_h_excess", "path_v_excess", "path"),
        needs=needs.tcp,
        thresholds={
            "path_stride": 3,  # frames between path samples: high-frequency jitter does not lengthen the path
            "path_min_ideal": 0.05,  # m: floor of the ideal path length
            "backtrack_tol": 0.01,  # m below the approach's highest point at which the descent has begun
            # m: the path may reverse this far along one axis (an overshoot corrected back): a key let
            # go 0.6 s late at the keyboard's 0.1 m/s; on a loaded machine people's releases land that
            # late (4.2-5.3 cm on both axes, 5 of 8 sloppy episodes `path` at 4 cm)
            "path_overshoot": 0.06,
        },
    )
)
class PathMeter:
    """`path`: TCP path (sampled every `path_stride` frames) over the ideal path, see module docstring.

    Horizontal lengths are per axis (x plus y), so axis-by-axis motion is not a longer path; a reversal
    along one axis of at most `path_overshoot` (a key let go late, corrected back by a tap) adds nothing,
    and neither does vertical motion against the task's direction of at most that much (a descent that
    went a little too low and came back up). A wandering hand goes further than that.
    Also sums the every-frame TCP path (`travel`), which the camera meters compare images against.
    """

    __slots__ = (
        "axis_run",
        "axis_runs",
        "back_run",
        "backtrack",
        "corrected",
        "descending",
        "min_ideal",
        "p0",
        "p_grasp",
        "p_last",
        "path_h",
        "path_v",
        "sample",
        "stride",
        "tol",
        "travel",
        "undo",
        "z_top",
    )

    def __init__(self, th: Mapping[str, float]) -> None:
        self.stride = int(th["path_stride"])
        self.tol = th["backtrack_tol"]
        self.undo = th["path_overshoot"]
        self.min_ideal = th["path_min_ideal"]
        self.p0: np.ndarray | None = None
        self.p_last: np.ndarray | None = None
        self.p_grasp: np.ndarray | None = None
        self.sample: np.ndarray | None = None
        self.path_h = 0.0  # decimated path, horizontal (per axis) and vertical parts
        self.path_v = 0.0
        self.z_top = -math.inf  # highest sampled TCP z of the current approach
        self.descending = False
        self.backtrack = 0.0  # vertical motion against the task's direction (m), see `_step`
        self.back_run = 0.0  # the current run of it, not yet known to be more than a correction
        self.axis_run = [0.0, 0.0]  # signed length of the current run along x and along y
        self.axis_runs = [0, 0]  # runs seen along each axis
        self.corrected = 0.0  # horizontal path of overshoots corrected back (out and back)
        self.travel = Travel(0.0, 0.0, 0.0)  # every-frame path (for motion between camera frames)

    def add(self, p: np.ndarray, v: np.ndarray | None, index: int, carrying: bool) -> None:
        """TCP `p` of frame `index`, reached by step `v`; `carrying`: the gripper holds the cube."""
        if v is not None:
            t = self.travel
            dz = float(v[2])
            self.travel = Travel(
                t.path + _norm(v), t.lateral + math.hypot(float(v[0]), float(v[1])), t.down - min(dz, 0.0), p
            )
        else:
            self.travel = self.travel._replace(at=p)
        if self.sample is None:
            self.p0 = self.sample = p
        elif index % self.stride == 0:
            self._step(p - self.sample, carrying)
            self.sample = p
        self.p_last = p

    def grasp(self, p: np.ndarray) -> None:
        self.p_grasp = p  # the last close is the grasp that counts (chatter closes earlier)

    def release(self) -> None:
        self._settle_back()
        self.z_top, self.descending = -math.inf, False  # a new approach begins

    def _step(self, d: np.ndarray, carrying: bool) -> None:
        for axis in (0, 1):
            self._axis(axis, float(d[axis]))
        self.path_h += abs(float(d[0])) + abs(float(d[1]))
        self.path_v += abs(float(d[2]))
        dz = float(d[2])
        back = 0.0
        if carrying:  # the lift should only go up
            back = max(0.0, -dz)
        else:  # approaching: up to a safe height, then down; rising again after descending is a detour
            assert self.p_last is not None
            z = float(self.p_last[2]) + dz
            self.z_top = max(self.z_top, z)
            if self.z_top - z > self.tol:
                self.descending = True
            if self.descending:
                back = max(0.0, dz)
        if back > 0.0:
            self.back_run += back
        elif dz != 0.0:
            self._settle_back()

    def _axis(self, axis: int, dx: float) -> None:
        """Follow the runs along one horizontal axis: a run back of at most `path_overshoot` after an
        earlier one is an overshoot corrected, its path out and back excused."""
        run = self.axis_run[axis]
        if dx == 0.0:
            return
        if run == 0.0 or (run > 0.0) == (dx > 0.0):
            if run == 0.0:
                self.axis_runs[axis] += 1
            self.axis_run[axis] = run + dx
            return
        self.corrected += self._excused(axis)
        self.axis_run[axis] = dx
        self.axis_runs[axis] += 1

    def _excused(self, axis: int) -> float:
        run = abs(self.axis_run[axis])
        return 2.0 * run if self.axis_runs[axis] > 1 and run <= self.undo else 0.0

    def _settle_back(self) -> None:
        if self.back_run > self.undo:
            self.backtrack += self.back_run
        self.back_run = 0.0

    def raw(self) -> dict[str, float]:
        if self.p0 is None or self.p_last is None or self.sample is None:
            return {}
        d = self.p_last - self.sample
        corrected = self.corrected + self._excused(0) + self._excused(1)
        path_h = self.path_h + abs(float(d[0])) + abs(float(d[1])) - corrected
        path_v = self.path_v + abs(float(d[2]))
        backtrack = self.backtrack + (self.back_run if self.back_run > self.undo else 0.0)
        legs = [self.p0, self.p_grasp, self.p_last] if self.p_grasp is not None else [self.p0, self.p_last]
        ideal_h = sum(_leg(a, b) for a, b in itertools.pairwise(legs))
        needed_v = max(0.0, path_v - 2.0 * backtrack)
        ideal = max(ideal_h + needed_v, self.min_ideal)
        path_v = needed_v + 2.0 * backtrack
        return {
            "path_length_m": path_h + path_v,
            "path_h_excess": max(0.0, path_h - ideal_h) / ideal,
            "path_v_excess": 2.0 * backtrack / ideal,
            "path": max(0.0, (path_h + path_v) / ideal - 1.0),
        }

    ORDER = 80

    @classmethod
    def build(cls, setup: MeterSetup) -> PathMeter:
        return cls(setup.th)

    def update(self, f: FrameFacts) -> None:
        """The TCP's point first (with the carry before this frame), then this frame's gripper change."""
        p = f.p
        if p is not None:
            self.add(p, f.v, f.index, f.carrying)
        if f.grip_event is GripEvent.CLOSED:
            if p is not None:
                self.grasp(p)
        elif f.grip_event is GripEvent.OPENED:
            self.release()
        f.travel = self.travel
