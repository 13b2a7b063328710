"""`jitter`: turning fraction  sum w (1 - cos angle(v_t, v_t-1)) / (2 sum w + N floor^2),
w = min(|v_t||v_t-1|, cap^2), on frame-to-frame motion v of the TCP and of the play-filtered command
(the larger of the two). 0 for straight motion, ~0.5 for random steps, 1 for pure back-and-forth; one
outlier moves it little (that is the spike metric). The command's turns are judged without the tremor,
which the arm filters anyway."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality import needs
from sim_teleop.quality.family import FAMILIES, Family, Kind, Source

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup

ISOLATED_TURN = 0.2
"""1 - cos of the angle (~37 degrees) beyond which a turn needs a turning neighbour to count (letting go
of one of two held arrow keys turns by 45)."""


class TurningMeter:
    """Turning fraction of a 3-D trajectory (see module docstring), O(1) per point.

    Each pair of consecutive steps adds w (1 - cos angle) to the numerator and 2 w to the denominator,
    with w = min(|v_t| |v_t-1|, cap^2): fast steps do not outweigh slow ones beyond `cap`, so the value is
    close to the share of moving frames that turn, and one huge outlier step counts like any other pair.
    Jitter turns again and again; a lone corner between straight moves (a keyboard operator switching
    from one arrow key to another, a quick reversal) is not jitter, so a turn counts only when the pair
    before or after it turns too (by more than `ISOLATED_TURN`); each pair is settled one point late.
    """

    __slots__ = (
        "cap2",
        "count",
        "den",
        "floor2",
        "jump",
        "num",
        "pending",
        "prev_p",
        "prev_turned",
        "prev_v",
        "prev_vn",
    )

    def __init__(self, floor: float, cap: float, jump: float) -> None:
        self.floor2 = floor * floor
        self.cap2 = cap * cap
        self.jump = jump  # a step longer than this is a spike (the spike metric's job), not a turn
        self.prev_p: np.ndarray | None = None
        self.prev_v: np.ndarray | None = None
        self.prev_vn = 0.0
        self.num = 0.0
        self.den = 0.0
        self.count = 0
        self.pending = 0.0  # the last pair's w (1 - cos), not yet known to be part of repeated turning
        self.prev_turned = False  # the pair before it turned

    def add(self, p: np.ndarray) -> np.ndarray | None:
        """Add a point; returns the step from the previous point (None for the first)."""
        if self.prev_p is None:
            self.prev_p = p
            return None
        v = p - self.prev_p
        vn = float(math.sqrt(float(v @ v)))
        if self.prev_v is not None:
            mag = vn * self.prev_vn
            if mag > 0.0 and vn <= self.jump and self.prev_vn <= self.jump:
                w = min(mag, self.cap2)
                turn = 1.0 - float(v @ self.prev_v) / mag
                self.den += 2.0 * w
                turned = turn > ISOLATED_TURN
                if not turned:  # a gentle bend always counts (a trembling hand's, a curve's)
                    self.num += w * turn
                    self.pending = 0.0
                elif self.prev_turned:  # turning again: this pair and a previous one still waiting
                    self.num += self.pending + w * turn
                    self.pending = 0.0
                else:
                    self.pending = w * turn
                self.prev_turned = turned
            else:
                self.pending, self.prev_turned = 0.0, False
            self.count += 1
        self.prev_p, self.prev_v, self.prev_vn = p, v, vn
        return v

    @property
    def value(self) -> float:
        return self.num / (self.den + self.count * self.floor2) if self.count else 0.0


@FAMILIES.register(
    Family(
        name="jitter",
        kind=Kind.MOTION,
        sources=(Source("jitter", 0.035),),  # turning fraction (0 straight .. 1 back-and-forth)
        weight=1.0,
        raw_keys=("jitter_tcp", "jitter_cmd", "jitter"),
        needs=needs.motion,
        thresholds={
            "turn_floor": 0.002,  # m per frame: motion below this adds to the denominator only
            "turn_jump": 0.045,  # m per frame: longer steps (beyond the 0.04 m rate limit) are spikes
            "turn_cap": 0.01,  # m per frame: faster steps weigh no more than this
        },
    )
)
class JitterMeter:
    """`jitter`: the turning fraction of the TCP and of the command; the larger one is the metric."""

    __slots__ = ("cmd", "tcp")

    def __init__(self, th: Mapping[str, float]) -> None:
        self.tcp = TurningMeter(th["turn_floor"], th["turn_cap"], th["turn_jump"])
        self.cmd = TurningMeter(th["turn_floor"], th["turn_cap"], th["turn_jump"])

    def add(self, p: np.ndarray | None, c: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Returns the frame-to-frame steps of the TCP and of the command (None where there is none)."""
        v = self.tcp.add(p) if p is not None else None
        cmd_step = self.cmd.add(c) if c is not None else None
        return v, cmd_step

    def raw(self) -> dict[str, float]:
        tcp, cmd = self.tcp.value, self.cmd.value
        return {"jitter_tcp": tcp, "jitter_cmd": cmd, "jitter": max(tcp, cmd)}

    ORDER = 20

    @classmethod
    def build(cls, setup: MeterSetup) -> JitterMeter:
        return cls(setup.th)

    def update(self, f: FrameFacts) -> None:
        self.add(f.p, f.steady_cmd)
