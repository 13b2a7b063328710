"""`spike`: one-frame spikes, the worst of the TCP's peak acceleration (m/s^2), the peak contact force with
the world (N, when the frame carries it), the command's one-frame out-and-back (`command_spike`) and, on a
joint-space layout, an action dimension's (`joints.ActionSpikeMeter`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality import needs
from sim_teleop.quality.family import FAMILIES, Family, Kind, Source
from sim_teleop.quality.shared import norm as _norm

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


@FAMILIES.register(
    Family(
        name="spike",
        kind=Kind.MOTION,
        sources=(
            Source("spike_accel", 3.0),  # peak TCP acceleration (m/s^2)
            Source("spike_force", 150.0),  # peak robot-vs-world contact normal force (N)
            Source("spike_cmd", 0.04),  # m: one-frame out-and-back of the command (the arm's 4 cm rate limit)
            Source("spike_action", 0.2),  # out-and-back of an action dimension / its range (joint layouts)
        ),
        weight=1.0,
        raw_keys=("spike_accel", "spike_force", "spike_cmd", "spike_action"),
        needs=needs.tcp_or_joints,
    )
)
class SpikeMeter:
    """`spike_accel`: peak TCP acceleration (m/s^2); `spike_force`: peak contact force (N), when carried.

    An acceleration is committed one frame late, so that a step found next frame to hold two frames
    of motion (dropped rows, see `integrity.JumpMeter`) is a gap, not a spike.
    """

    __slots__ = ("accel_peak", "dt", "force_peak", "force_seen", "pending", "prev_v")

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.prev_v: np.ndarray | None = None
        self.pending = 0.0
        self.accel_peak = 0.0
        self.force_peak = 0.0
        self.force_seen = False

    def add(
        self, v: np.ndarray | None, contact_force: float | None, stale: bool = False, jumped: bool = False
    ) -> None:
        """TCP step `v`; `stale`: it does not span one frame of motion (a repeated state, the step out of
        a stall or over skipped frame numbers), so no acceleration is measured against or from it;
        `jumped`: the previous step held two frames of motion (its accelerations are dropped)."""
        accel = 0.0
        if stale or v is None:
            self.prev_v = None
        else:
            if self.prev_v is not None:
                accel = _norm(v - self.prev_v) / self.dt**2
            self.prev_v = v
        if jumped:
            self.pending = 0.0
        else:
            self.accel_peak = max(self.accel_peak, self.pending)
            self.pending = accel
        if contact_force is not None and math.isfinite(contact_force):
            self.force_seen = True
            self.force_peak = max(self.force_peak, float(contact_force))

    def raw(self) -> dict[str, float]:
        out = {"spike_accel": max(self.accel_peak, self.pending)}
        if self.force_seen:
            out["spike_force"] = self.force_peak
        return out

    ORDER = 130  # after the jump meter (`gap`): it says which steps held two frames

    @classmethod
    def build(cls, setup: MeterSetup) -> SpikeMeter:
        return cls(setup.dt)

    def update(self, f: FrameFacts) -> None:
        self.add(f.v, f.contact_force, f.stale, f.jumped)
