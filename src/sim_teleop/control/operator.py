"""A human operator model on top of the scripted expert: clean demonstrations that are not machine-smooth.

The scripted expert moves like a robot: exact waypoints, trapezoidal speed, dead-still holds. A person on
a spacemouse, a leader arm or a VR controller does the same task with

- tremor: a small periodic wobble of the hand (0.3-1 mm at 2-4 Hz as seen at 10 Hz),
- hand noise: slow random drift of the held pose (low-pass noise, 0.5-1.5 mm RMS),
- reaction delays: a short wait (0.1-0.3 s) after each stage ends before the next one starts,
- hesitations: now and then a longer wait at a stage change (0.3-0.5 s),
- corrections: an approach that overshoots the hover point by up to 2 cm and then comes back.

None of these is a defect: the quality scorer must judge such episodes `good`. Their sizes are drawn
per attempt from `(seed, attempt)`, so a run is diverse yet reproducible. The defects of
`sim_teleop.control.defects` are applied on top, as for the expert (their sizes stay well above these:
jitter 3-12 mm, pauses from 1 s, detours from 4 cm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim_teleop.control.keyboard_operator import KeyboardOperator

_OPERATOR_DOMAIN = 0x4A7D0  # separates operator draws from other users of the same seed


@dataclass(frozen=True, slots=True)
class OperatorParams:
    """One attempt's operator. Distances in metres, times in frames (10 Hz)."""

    tremor_m: float = 0.0  # amplitude of the periodic wobble
    tremor_hz: float = 3.0
    noise_m: float = 0.0  # RMS of the low-pass hand noise, per axis
    noise_tau: float = 3.0  # its time constant (frames)
    reaction: int = 0  # frames of waiting after every stage change
    hesitation_p: float = 0.0  # chance of a longer wait at a stage change ...
    hesitation: tuple[int, int] = (3, 5)  # ... of this many frames (inclusive range)
    overshoot_m: float = 0.0  # the approach aims this far past the hover point (then corrects)

    @classmethod
    def sample(cls, seed: int, attempt: int) -> OperatorParams:
        rng = np.random.default_rng([_OPERATOR_DOMAIN, seed, attempt])
        return cls(
            tremor_m=float(rng.uniform(0.0003, 0.001)),
            tremor_hz=float(rng.uniform(2.0, 4.0)),
            noise_m=float(rng.uniform(0.0005, 0.0015)),
            noise_tau=float(rng.uniform(2.0, 5.0)),
            reaction=int(rng.integers(1, 4)),
            hesitation_p=float(rng.uniform(0.1, 0.4)),
            overshoot_m=float(rng.uniform(0.0, 0.02)),
        )


class HandNoise:
    """Tremor plus low-pass noise added to the commanded position, one frame at a time."""

    def __init__(self, params: OperatorParams, rng: np.random.Generator, dt: float = 0.1) -> None:
        self.p = params
        self.rng = rng
        self.dt = dt
        self.phases = rng.uniform(0.0, 2.0 * math.pi, 3)
        self.a = math.exp(-1.0 / max(params.noise_tau, 1e-6))  # AR(1) with unit stationary variance
        self.drift = rng.standard_normal(3) * params.noise_m
        self.frame = 0

    def next(self) -> np.ndarray:
        p = self.p
        t = self.frame * self.dt
        self.frame += 1
        tremor = p.tremor_m * np.sin(2.0 * math.pi * p.tremor_hz * t + self.phases)
        self.drift = self.a * self.drift + math.sqrt(
            1.0 - self.a * self.a
        ) * p.noise_m * self.rng.standard_normal(3)
        return tremor + self.drift


class Hesitation:
    """Decides how long the operator waits after a stage change (reaction time, sometimes more)."""

    def __init__(self, params: OperatorParams, rng: np.random.Generator) -> None:
        self.p = params
        self.rng = rng
        self.left = 0

    def on_stage_change(self) -> None:
        wait = self.p.reaction
        if self.rng.random() < self.p.hesitation_p:
            lo, hi = self.p.hesitation
            wait = max(wait, int(self.rng.integers(lo, hi + 1)))
        self.left = wait

    def waiting(self) -> bool:
        """True (and one frame used up) while the operator still waits."""
        if self.left <= 0:
            return False
        self.left -= 1
        return True


class HumanOperator:
    """The operator layer of one attempt: waits at stage changes and adds hand noise to every command.

    Per frame the controller asks `waiting()` first (then the expert does not step and `held` is
    commanded again), otherwise lets the expert act and reports its action and stage to `observe`;
    whatever is finally sent goes through `jitter`.
    """

    def __init__(self, params: OperatorParams, seed: int, attempt: int) -> None:
        self.params = params
        rng = np.random.default_rng([_OPERATOR_DOMAIN, seed, attempt, 1])
        self.noise = HandNoise(params, rng)
        self.hesitation = Hesitation(params, rng)
        self.stage: object = None
        self.held: np.ndarray | None = None

    @classmethod
    def sample(cls, seed: int, attempt: int) -> HumanOperator:
        return cls(OperatorParams.sample(seed, attempt), seed, attempt)

    def waiting(self) -> bool:
        """Whether the expert waits this frame (a reaction delay or a hesitation after a stage change)."""
        return self.held is not None and self.hesitation.waiting()

    def observe(self, action: np.ndarray, stage: object) -> None:
        """The expert's noise-free `action` of this frame and the stage it is in afterwards."""
        if stage != self.stage:
            if self.stage is not None:
                self.hesitation.on_stage_change()
            self.stage = stage
        self.held = np.asarray(action, dtype=np.float32).copy()

    def jitter(self, action: np.ndarray) -> np.ndarray:
        """`action` with this frame's tremor and hand noise on its position (the gripper is unchanged)."""
        out = np.asarray(action, dtype=np.float32).copy()
        out[:3] += self.noise.next().astype(np.float32)
        return out


OPERATORS = ("expert", "human", "keyboard")
"""Who drives the autopilot: the scripted expert alone, through the human hand model above, or through
the keyboard (`keyboard_operator`)."""


def make_operator(kind: str, seed: int, attempt: int) -> HumanOperator | KeyboardOperator | None:
    """The operator layer of one attempt (None: the expert drives directly)."""
    if kind == "human":
        return HumanOperator.sample(seed, attempt)
    if kind == "keyboard":
        return KeyboardOperator.sample(seed, attempt)
    if kind != "expert":
        raise ValueError(f"operator {kind!r}: expected one of {', '.join(OPERATORS)}")
    return None
