"""`saturation`: fraction of frames with a commanded offset at its limit or the TCP within `sat_margin` of
the workspace bounds (x, y, top; touching the table is the task, not saturation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality import needs
from sim_teleop.quality.family import FAMILIES, Family, Kind, Source

if TYPE_CHECKING:
    from sim_teleop.quality.config import SignalLayout
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


@FAMILIES.register(
    Family(
        name="saturation",
        kind=Kind.MOTION,
        sources=(Source("saturation", 0.15),),  # fraction of frames at a workspace / command limit
        weight=0.5,
        raw_keys=("saturation",),
        needs=needs.bounds,
        thresholds={"sat_margin": 0.005},  # m: TCP this close to a workspace bound (x, y, top) is saturated
    )
)
class SaturationMeter:
    """`saturation`: share of frames with the command at its limit or the TCP at a workspace bound."""

    __slots__ = ("box", "cmd_limit", "frames", "saturated")

    def __init__(self, layout: SignalLayout, margin: float) -> None:
        # Bounds as plain floats: x, y low and x, y, top high, each moved in by the margin (touching the
        # table is the task, not saturation).
        low, high = layout.workspace_low, layout.workspace_high
        self.box: tuple[float, ...] | None = None
        if low is not None and high is not None:
            self.box = (
                low[0] + margin,
                low[1] + margin,
                high[0] - margin,
                high[1] - margin,
                high[2] - margin,
            )
        limit = layout.action_xyz_limit
        self.cmd_limit = limit - 1e-3 if limit is not None else None
        self.frames = 0
        self.saturated = 0

    def add(self, p: np.ndarray | None, c: np.ndarray | None) -> None:
        self.frames += 1
        if self._saturated(p, c):
            self.saturated += 1

    def _saturated(self, p: np.ndarray | None, c: np.ndarray | None) -> bool:
        if c is not None and self.cmd_limit is not None and max(abs(x) for x in c.tolist()) >= self.cmd_limit:
            return True
        if p is not None and self.box is not None:
            x, y, z = p.tolist()
            lo_x, lo_y, hi_x, hi_y, hi_z = self.box
            return x <= lo_x or y <= lo_y or x >= hi_x or y >= hi_y or z >= hi_z
        return False

    def raw(self) -> dict[str, float]:
        return {"saturation": self.saturated / max(self.frames, 1)}

    ORDER = 50

    @classmethod
    def build(cls, setup: MeterSetup) -> SaturationMeter:
        return cls(setup.layout, setup.th["sat_margin"])

    def update(self, f: FrameFacts) -> None:
        self.add(f.p, f.c)
