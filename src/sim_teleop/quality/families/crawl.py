"""`slow`: the episode's duration against the running reference (`scorer.RunningReference`, computed by
the scorer) and `crawl_fraction`: frames of steady commanded motion (TCP motion without a command) slower
than the crawl speed and than this episode's own cruise, excluding speed-up / slow-down ramps."""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality.family import FAMILIES, Family, Kind, Source
from sim_teleop.quality.shared import norm as _norm

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup

CRAWL_BIN = 0.001
"""m/s: resolution of the crawl meter's speed histogram (its crawl limit is known only at the end)."""
CRUISE_BIN = 0.005
"""m/s: resolution of the histogram the cruise speed is read from."""
CRUISE_TOP = 1.0
"""m/s: steady speeds above this share the top bin of that histogram (a stall's catch-up, a spike)."""
STALL_STEP = 2.0
"""A step this many times the mean of the others in the crawl window, and than `crawl_speed` x dt,
is a stalled sim's catch-up row (several frames of motion in one)."""
CRUISE_QUANTILE = 0.9
"""The cruise is this quantile of the steady speeds, not their maximum: on a loaded machine a stalled sim
delivers a keyboard's command in rows of 15-90 mm instead of 10, and a maximum read those as a 0.2-0.3
m/s cruise that made the keyboard's steady 0.1 m/s a crawl."""


PACE = Source("slow", 0.6)
"""The episode's duration / the running reference - 1: derived by the scorer (`scorer.RunningReference`)."""


@FAMILIES.register(
    Family(
        name=PACE.key,
        kind=Kind.MOTION,
        sources=(
            PACE,
            Source("crawl_fraction", 0.08, "crawl"),  # frames of steady motion slower than the crawl limit
        ),
        weight=1.0,
        raw_keys=("crawl_fraction", "cruise_speed"),
        thresholds={
            # m/s: steady commanded motion slower than this is crawling (expert: 0.12-0.24) ...
            "crawl_speed": 0.105,
            # ... if also slower than this x the episode's cruise (0.105 / the expert's 0.18)
            "crawl_ratio": 0.58,
            "crawl_window": 3,  # frames over which the crawl speed is measured (averages the hand's noise)
            "crawl_steady": 0.01,  # m/s change per frame below which the speed counts as steady (not a ramp)
        },
    )
)
class CrawlMeter:
    """`crawl_fraction`: frames of steady motion (not a speed-up/slow-down ramp) slower than `crawl_speed`
    and than `crawl_ratio` x the episode's `cruise_speed`, the `CRUISE_QUANTILE` of its steady speeds.

    Crawling is slow for this operator: the expert cruises at 0.12-0.24 m/s, a keyboard at 0.1 m/s an
    axis, which a fixed 0.105 m/s would call crawling throughout. A slowed stretch of an episode is
    slower than the same episode's own cruise. The cruise is known only at the end, so the steady
    speeds are kept as fixed histograms (constant memory): below `crawl_speed` in `CRAWL_BIN` bins, all
    of them in `CRUISE_BIN` bins. The speed is the mean step over the last `crawl_window` frames (of
    the play-filtered command, or TCP): a hand's frame-to-frame noise would otherwise make a slow,
    steady move look unsteady; a step far longer than the others is left out, or a stalled sim's long
    row would make the window look fast.
    """

    __slots__ = ("dt", "frames", "prev_speed", "recent", "slow", "stalls", "steady", "steady_sum", "th")

    def __init__(self, th: Mapping[str, float], dt: float) -> None:
        self.th = th
        self.dt = dt
        self.frames = 0
        self.prev_speed: float | None = None
        self.recent: deque[np.ndarray] = deque(maxlen=int(th["crawl_window"]) + 1)
        self.stalls: deque[bool] = deque(maxlen=int(th["crawl_window"]) + 1)  # per point in `recent`
        bins = math.ceil((th["crawl_speed"] - th["still_speed"]) / CRAWL_BIN)
        self.slow = [0] * max(bins, 0)  # steady frames per speed bin from still_speed up to crawl_speed
        self.steady = [0] * (math.ceil(CRUISE_TOP / CRUISE_BIN) + 1)  # steady frames per speed bin
        self.steady_sum = [0.0] * len(self.steady)  # and the sum of their speeds

    def add(self, point: np.ndarray | None, stalled: bool = False) -> None:
        """The filtered command (the TCP when there is no command) of this frame; `stalled`: the sim
        skipped ticks before it (`FrameFacts.stalled`)."""
        self.frames += 1
        if point is None:
            return
        self.recent.append(point)
        self.stalls.append(stalled)
        if len(self.recent) < 2:
            return
        if any(itertools.islice(self.stalls, 1, None)):
            # A step over skipped ticks holds a keyboard's motion of several ticks but an autopilot's
            # or a policy's of one: its speed is nobody's steady pace, so the window is not counted
            # (sustained stalls had made a keyboard's 0.1 m/s cruise 0.18 and its own pace a crawl).
            self.prev_speed = None
            return
        th = self.th
        # A stalled sim's row (several frames of a held key in one) would raise the speed of every
        # window it lies in: a step more than `STALL_STEP` x the others' mean and than a crawl's frame
        # is left out.
        steps = [_norm(b - a) for a, b in itertools.pairwise(self.recent)]
        if len(steps) > 2:
            longest = max(steps)
            rest = (sum(steps) - longest) / (len(steps) - 1)
            if longest > STALL_STEP * rest and longest > STALL_STEP * th["crawl_speed"] * self.dt:
                steps.remove(longest)
        speed = sum(steps) / (len(steps) * self.dt)
        # A lone short tap inside the window is not slow steady motion: every step must move.
        moving = min(steps) >= th["still_speed"] * self.dt
        prev, self.prev_speed = self.prev_speed, speed
        if prev is None:
            return
        if abs(speed - prev) < th["crawl_steady"] and speed >= th["still_speed"] and moving:
            b = min(int(speed / CRUISE_BIN), len(self.steady) - 1)
            self.steady[b] += 1
            self.steady_sum[b] += speed
            k = int((speed - th["still_speed"]) / CRAWL_BIN)
            if k < len(self.slow):
                self.slow[k] += 1

    @property
    def cruise(self) -> float:
        """The `CRUISE_QUANTILE` of the steady speeds (the mean speed in its bin; 0 without steady motion)."""
        total = sum(self.steady)
        if total == 0:
            return 0.0
        need = CRUISE_QUANTILE * total
        for k, count in enumerate(itertools.accumulate(self.steady)):
            if count >= need:
                return self.steady_sum[k] / self.steady[k]
        return CRUISE_TOP

    @property
    def crawl(self) -> int:
        """Steady frames whose speed bin lies below this episode's crawl limit (by the bin's centre)."""
        th = self.th
        limit = min(th["crawl_speed"], th["crawl_ratio"] * self.cruise)
        return sum(n for k, n in enumerate(self.slow) if th["still_speed"] + (k + 0.5) * CRAWL_BIN < limit)

    def raw(self) -> dict[str, float]:
        return {"crawl_fraction": self.crawl / max(self.frames - 1, 1), "cruise_speed": self.cruise}

    ORDER = 40

    @classmethod
    def build(cls, setup: MeterSetup) -> CrawlMeter:
        return cls(setup.th, setup.dt)

    def update(self, f: FrameFacts) -> None:
        self.add(f.steady_cmd if f.c is not None else f.steady_tcp, f.stalled)
