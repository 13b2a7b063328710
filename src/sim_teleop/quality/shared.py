"""Small helpers the metric families share: clipping, vector length, the tremor (play) filter, a
one-frame despike and the TCP's running travel."""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np


def clip01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def norm(v: np.ndarray) -> float:
    """Length of a short vector (np.linalg.norm's generality costs more than the metric on 3 values)."""
    return math.sqrt(float(v @ v))


class PlayFilter:
    """A per-axis play (backlash) operator: the output follows the input only once it is more than
    `radius` away, so a hand's millimetre tremor and drift leave it still while real motion passes
    through unchanged (minus the radius at each reversal). O(1) per point.

    It is what lets the standstill, crawl and out-and-back tests work on a human's noisy signal: a held
    pose reads as a held pose, not as endless slow wandering.
    """

    __slots__ = ("radius", "y")

    def __init__(self, radius: float) -> None:
        self.radius = radius
        self.y: np.ndarray | None = None

    def add(self, x: np.ndarray) -> np.ndarray | None:
        """Add a point; returns the output's step from the previous point (None for the first)."""
        prev = self.y
        if prev is None or self.radius <= 0.0:
            self.y = np.array(x, dtype=np.float64)
        else:
            # np.clip without its Python wrapper (~4 us a call, three calls a frame)
            self.y = np.minimum(np.maximum(prev, x - self.radius), x + self.radius)
        return None if prev is None else self.y - prev


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


class Travel(NamedTuple):
    """How far the TCP went since the episode began (m): its path, the horizontal part of it, and the
    part of it that went down; `at`: where it is now (the TCP's xyz, or offline the joints in fractions
    of their ranges, `joints`), so that a return to an earlier pose is no view motion."""

    path: float
    lateral: float
    down: float
    at: np.ndarray | None = None
    joints: bool = False

    def view_since(self, earlier: Travel, on_gripper: bool, down_weight: float) -> float:
        """How far the view moved from `earlier` to here, net: a camera on the gripper sees sideways
        motion, and `down_weight` x the motion down (a lift with the cube in hand barely changes its
        view); any other camera the TCP's displacement. Without positions: the path between them."""
        if self.at is None or earlier.at is None:
            if on_gripper:
                return (self.lateral - earlier.lateral) + down_weight * (self.down - earlier.down)
            return self.path - earlier.path
        d = self.at - earlier.at
        if self.joints:
            return float(np.abs(d).mean()) if d.size else 0.0
        if on_gripper:
            return math.hypot(float(d[0]), float(d[1])) + down_weight * max(0.0, -float(d[2]))
        return float(math.sqrt(float(d @ d)))
