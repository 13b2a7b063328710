"""`telemetry_freeze_s`: the state repeats bit for bit while the actions move (s): the telemetry stalled.
The TCP then jumps when it resumes, so those steps are kept out of the acceleration (`FrameFacts.stale`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality.family import FAMILIES, Family, Kind, Source

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


@FAMILIES.register(
    Family(
        name="telemetry_freeze",
        kind=Kind.INTEGRITY,
        sources=(Source("telemetry_freeze_s", 0.15),),  # s: longest stale state while the action moved
        weight=1.0,
        raw_keys=("telemetry_freeze_s",),
    )
)
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
        self._count(repeated, acted)
        self.prev_state = np.array(state, copy=True)
        self.prev_action = np.array(action, copy=True)
        return repeated

    def _count(self, repeated: bool, acted: bool) -> None:
        if repeated:
            self.run += 1
            self.moved = self.moved or acted
        else:
            self._close()

    def _close(self) -> None:
        if self.moved:
            self.peak = max(self.peak, self.run)
        self.run, self.moved = 0, False

    def raw(self) -> dict[str, float]:
        open_run = self.run if self.moved else 0
        return {"telemetry_freeze_s": max(self.peak, open_run) * self.dt}

    ORDER = 100

    @classmethod
    def build(cls, setup: MeterSetup) -> FreezeMeter:
        return cls(setup.dt)

    def update(self, f: FrameFacts) -> None:
        self._count(f.repeated, f.acted)  # the frame reader compared the state and action already
