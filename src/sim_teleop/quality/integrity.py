"""Meters for defects of the recording itself, not of the demonstration: each names its own cause.

A flaky transport or logger damages a good demonstration in ways the motion metrics would misread:

- `spike_cmd`: a one-frame command spike (m): the command jumps out and straight back. The arm's rate
  limit keeps it out of the TCP, so the TCP acceleration never sees it; the detour metric would call
  it a detour, so the detour reads a despiked command (`Median3`).
- `telemetry_freeze_s`: the state repeats bit for bit while the actions move (s): the telemetry
  stalled. The TCP then jumps when it resumes, so those steps are kept out of the acceleration.
- `missing_frames`: frame numbers (from timestamps offline, frame indices live) that skip: dropped
  frames or a timestamp gap; and `step_jumps`: frames where the TCP and the command both moved about
  twice what the frames around them did - rows dropped from a dataset whose timestamps were then
  written continuous (LeRobot's writer numbers frames itself), so only the motion shows the hole.
- `lag_frames`: how far (frames) the delay at which the TCP best follows the command lies outside the
  range a clean recording shows: actions stored shifted against the states. A TCP that moves before
  its command is physically impossible; a much longer delay than the arm needs is a logging shift.

Every meter is O(1) per frame (the lag meter O(max_lag)) with constant memory.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import numpy as np


def norm(v: np.ndarray) -> float:
    """Length of a short vector (np.linalg.norm's generality costs more than the metric on 3 values)."""
    return math.sqrt(float(v @ v))


class Median3:
    """Per-axis median of the last three points: removes a one-frame spike, keeps monotonic motion
    exactly (one frame late)."""

    __slots__ = ("recent",)

    def __init__(self) -> None:
        self.recent: deque[np.ndarray] = deque(maxlen=3)

    def add(self, x: np.ndarray) -> np.ndarray:
        self.recent.append(x)
        if len(self.recent) < 3:
            return self.recent[0]
        a, b, c = self.recent
        return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


class CommandSpikeMeter:
    """`spike_cmd`: the largest one-frame out-and-back of the raw command (m).

    Two consecutive steps that reverse (cosine below -0.5) make an excursion of the shorter one's
    length. A hand's tremor reverses by millimetres, a jittery one by a centimetre or two; a spike by
    more than the arm can follow in one frame.
    """

    __slots__ = ("peak", "prev_step")

    def __init__(self) -> None:
        self.prev_step: np.ndarray | None = None
        self.peak = 0.0

    def add(self, step: np.ndarray | None) -> None:
        if step is None:
            return
        prev = self.prev_step
        self.prev_step = step
        if prev is None:
            return
        a, b = norm(prev), norm(step)
        if a > 0.0 and b > 0.0 and float(prev @ step) < -0.5 * a * b:
            self.peak = max(self.peak, min(a, b))

    def raw(self) -> dict[str, float]:
        return {"spike_cmd": self.peak}


class FreezeMeter:
    """`telemetry_freeze_s`: the longest run of bit-identical states while the action changed (s).

    A simulated or encoder-read state never repeats exactly while the robot is commanded to move; a
    repeat is a stale sample. Repeats while the action stands still too (a quantised encoder at rest)
    do not count.
    """

    __slots__ = ("dt", "moved", "peak", "prev_action", "prev_state", "run")

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.prev_state: np.ndarray | None = None
        self.prev_action: np.ndarray | None = None
        self.run = 0
        self.moved = False
        self.peak = 0

    def add(self, state: np.ndarray, action: np.ndarray) -> bool:
        """Whether this frame's state repeats the previous one (a stale sample)."""
        repeated = self.prev_state is not None and np.array_equal(state, self.prev_state)
        acted = self.prev_action is not None and not np.array_equal(action, self.prev_action)
        if repeated:
            self.run += 1
            self.moved = self.moved or acted
        else:
            self._close()
        self.prev_state = np.array(state, copy=True)
        self.prev_action = np.array(action, copy=True)
        return repeated

    def _close(self) -> None:
        if self.moved:
            self.peak = max(self.peak, self.run)
        self.run, self.moved = 0, False

    def raw(self) -> dict[str, float]:
        open_run = self.run if self.moved else 0
        return {"telemetry_freeze_s": max(self.peak, open_run) * self.dt}


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


class LagMeter:
    """`lag_best` (frames) and `lag_frames`: the delay at which the TCP's steps best match the
    command's (cross-correlation of the two step series at delays -max_lag..max_lag), and how far it
    lies outside [lag_min_s, lag_max_s] (the arm's own response, calibrated on clean recordings)."""

    __slots__ = ("cmd_hist", "corr", "hi", "lo", "max_lag", "tcp_hist")

    def __init__(self, th: Mapping[str, float], dt: float) -> None:
        self.max_lag = max(1, round(th["lag_max_s"] / dt) + 4)
        self.lo = th["lag_min_s"] / dt
        self.hi = th["lag_max_s"] / dt
        self.cmd_hist: deque[np.ndarray] = deque(maxlen=self.max_lag + 1)
        self.tcp_hist: deque[np.ndarray] = deque(maxlen=self.max_lag + 1)
        self.corr = np.zeros(2 * self.max_lag + 1)  # index max_lag + d: the TCP d frames after the command

    def add(self, cmd_step: np.ndarray | None, tcp_step: np.ndarray | None) -> None:
        if cmd_step is None or tcp_step is None:
            return
        self.cmd_hist.appendleft(cmd_step)
        self.tcp_hist.appendleft(tcp_step)
        m = self.max_lag
        for d, c in enumerate(self.cmd_hist):  # the command d frames ago against the TCP now
            self.corr[m + d] += float(c @ tcp_step)
        for d, p in enumerate(self.tcp_hist):  # the TCP d frames ago against the command now
            if d:
                self.corr[m - d] += float(p @ cmd_step)

    def raw(self) -> dict[str, float]:
        if not self.corr.any():
            return {}
        best = int(np.argmax(self.corr)) - self.max_lag
        return {"lag_best": float(best), "lag_frames": max(0.0, self.lo - best, best - self.hi)}
