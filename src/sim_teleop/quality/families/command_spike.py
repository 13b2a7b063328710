"""`spike_cmd` (of the `spike` family): a one-frame command spike (m), the command jumping out and straight
back. The arm's rate limit keeps it out of the TCP, so the TCP acceleration never sees it; the detour
metric would call it a detour, so the detour reads a despiked command (`shared.Median3`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality.family import FAMILIES
from sim_teleop.quality.shared import norm

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


@FAMILIES.meter
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

    ORDER = 90

    @classmethod
    def build(cls, setup: MeterSetup) -> CommandSpikeMeter | None:
        return cls() if setup.has_cmd else None

    def update(self, f: FrameFacts) -> None:
        self.add(f.raw_cmd_step)
