"""`lag_frames`: how far (frames) the delay at which the TCP best follows the command lies outside the
range a clean recording shows: actions stored shifted against the states. A TCP that moves before its
command is physically impossible; a much longer delay than the arm needs is a logging shift."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality import needs
from sim_teleop.quality.family import FAMILIES, Family, Kind, Source

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


@FAMILIES.register(
    Family(
        name="lag",
        kind=Kind.INTEGRITY,
        sources=(Source("lag_frames", 0.5),),  # frames the TCP's delay lies outside the clean range (any)
        weight=1.0,
        raw_keys=("lag_best", "lag_frames"),
        needs=needs.tcp_and_command,
        thresholds={
            "lag_min_s": 0.0,  # the TCP follows the command this soon ...
            "lag_max_s": 0.3,  # ... to this late in a clean recording (s)
        },
    )
)
class LagMeter:
    """`lag_best` (frames) and `lag_frames`: the delay at which the TCP's steps best match the
    command's (cross-correlation of the two step series at delays -max_lag..max_lag), and how far it
    lies outside [lag_min_s, lag_max_s] (the arm's own response, calibrated on clean recordings)."""

    __slots__ = ("cmd_hist", "corr", "filled", "hi", "lo", "max_lag", "tcp_hist")

    def __init__(self, th: Mapping[str, float], dt: float) -> None:
        self.max_lag = max(1, round(th["lag_max_s"] / dt) + 4)
        self.lo = th["lag_min_s"] / dt
        self.hi = th["lag_max_s"] / dt
        # The last max_lag + 1 steps, newest first, and how many of those rows are filled.
        self.cmd_hist = np.zeros((self.max_lag + 1, 3))
        self.tcp_hist = np.zeros((self.max_lag + 1, 3))
        self.filled = 0
        self.corr = np.zeros(2 * self.max_lag + 1)  # index max_lag + d: the TCP d frames after the command

    def add(self, cmd_step: np.ndarray | None, tcp_step: np.ndarray | None) -> None:
        if cmd_step is None or tcp_step is None:
            return
        self.cmd_hist[1:] = self.cmd_hist[:-1]
        self.cmd_hist[0] = cmd_step
        self.tcp_hist[1:] = self.tcp_hist[:-1]
        self.tcp_hist[0] = tcp_step
        k = self.filled = min(self.filled + 1, self.max_lag + 1)
        m = self.max_lag
        # the command d frames ago against the TCP now (d = 0..k-1), and the TCP d frames ago against the
        # command now (d = 1..k-1), stored at m - d
        self.corr[m : m + k] += self.cmd_hist[:k] @ self.tcp_hist[0]
        self.corr[m - k + 1 : m] += (self.tcp_hist[1:k] @ self.cmd_hist[0])[::-1]

    def raw(self) -> dict[str, float]:
        if not self.corr.any():
            return {}
        best = int(np.argmax(self.corr)) - self.max_lag
        return {"lag_best": float(best), "lag_frames": max(0.0, self.lo - best, best - self.hi)}

    ORDER = 140

    @classmethod
    def build(cls, setup: MeterSetup) -> LagMeter | None:
        return cls(setup.th, setup.dt) if setup.has_cmd and setup.has_tcp else None

    def update(self, f: FrameFacts) -> None:
        self.add(f.raw_cmd_step, None if f.stale else f.v)
