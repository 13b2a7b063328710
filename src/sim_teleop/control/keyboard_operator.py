"""A keyboard operator model: the scripted expert's intent, typed on the teleop keyboard.

A person driving `dataflow-record.yaml` holds arrow and Shift keys, each moving the target at a fixed
0.1 m/s along one axis, and holds Cmd to close the gripper. Their demonstrations differ from the
expert's in ways the quality scorer must accept as clean:

- bang-bang motion: full speed or stopped on each axis, no smooth ramps;
- axis-aligned paths: one key at a time (or two arrows held together), so approaches bend, and over
  the cube first, then down;
- a reaction delay (0.2-0.8 s, one per attempt: people differ, and so does one person's attention)
  before a new goal or an overshoot is acted on;
- a look before descending (0.3-1.5 s with the gripper over the cube, keys up);
- keys let go late (30-400 ms: an overshoot of up to 4 cm), then corrective taps back (each timed to
  within 20 %);
- now and then a hesitation on the way (0.3-1.0 s, keys up);
- a dead band of 3-6 mm the operator does not bother to correct.

Each attempt draws its typist (`KeyboardParams.sample`), so one session mixes quick and careful
episodes, as one person's does.

The keys go through `KeyboardTeleop`, the keyboard node's own logic, on a simulated clock: key presses
and releases happen at times inside a frame, not on frame boundaries, as with a real keyboard.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from sim_teleop.control.teleop import GRIPPER_KEYS, MOTION_KEYS, SPEED, KeyboardTeleop

_KEYBOARD_DOMAIN = 0x6B3D1  # separates keyboard-operator draws from other users of the same seed

AXIS_KEYS: tuple[tuple[str, str], ...] = tuple(
    (
        next(k for k, (a, s) in MOTION_KEYS.items() if a == axis and s < 0),
        next(k for k, (a, s) in MOTION_KEYS.items() if a == axis and s > 0),
    )
    for axis in range(3)
)
"""Per axis: the key that moves it down (negative) and the one that moves it up."""
GRIPPER_KEY = min(GRIPPER_KEYS)
ABOVE_M = 0.02  # horizontal error beyond which the operator does not move vertically yet
TAP_M = 0.02  # an error up to this is corrected with one timed tap, a larger one by holding the key


@dataclass(frozen=True, slots=True)
class KeyboardParams:
    """One attempt's typist. Times in seconds unless named in frames."""

    reaction: int = 2  # frames before a change of goal, or where a key stopped, is acted on
    release_late: tuple[float, float] = (0.03, 0.2)  # how late a key is let go after the target got there
    dead_band_m: float = 0.004  # error left alone
    one_axis: bool = True  # one arrow at a time (the larger error first), else two held together
    look_s: float = 0.0  # keys up over the cube before the first descent
    hesitate_at_s: float = 0.0  # when a hesitation on the way starts (attempt time)
    hesitate_s: float = 0.0  # how long it lasts (0: none)

    @classmethod
    def sample(cls, seed: int, attempt: int) -> KeyboardParams:
        rng = np.random.default_rng([_KEYBOARD_DOMAIN, seed, attempt])
        reaction = int(rng.integers(2, 9))
        release_late = (0.03, float(rng.uniform(0.1, 0.4)))
        dead_band_m = float(rng.uniform(0.003, 0.006))
        one_axis = bool(rng.random() < 0.6)
        look_s = float(rng.uniform(0.3, 1.5))
        hesitates = bool(rng.random() < 0.3)
        return cls(
            reaction=reaction,
            release_late=release_late,
            dead_band_m=dead_band_m,
            one_axis=one_axis,
            look_s=look_s,
            hesitate_at_s=float(rng.uniform(0.5, 2.5)) if hesitates else 0.0,
            hesitate_s=float(rng.uniform(0.3, 1.0)) if hesitates else 0.0,
        )


class KeyboardOperator:
    """Follows an intended action `[x, y, z, gripper]` (the expert's) by holding keys; one per attempt."""

    def __init__(self, params: KeyboardParams, seed: int, attempt: int, dt: float = 0.1) -> None:
        self.params = params
        self.dt = dt
        self.rng = np.random.default_rng([_KEYBOARD_DOMAIN, seed, attempt, 1])
        self.now = 0.0
        self.teleop = KeyboardTeleop(SPEED, clock=lambda: self.now)
        self.goals: deque[np.ndarray] = deque(maxlen=params.reaction + 1)
        self.release_at: dict[str, float] = {}  # held key -> when it will be let go
        self.released = [-np.inf] * 3  # per axis: when its last key was let go
        self.over_since: float | None = None  # when the gripper got over its goal, for the look
        self.descended = False  # the look comes once, before the first descent

    @classmethod
    def sample(cls, seed: int, attempt: int) -> KeyboardOperator:
        return cls(KeyboardParams.sample(seed, attempt), seed, attempt)

    def follow(self, intended: np.ndarray) -> np.ndarray:
        """This frame's keys for what the operator saw `reaction` frames ago; the teleop's action."""
        self.goals.append(np.asarray(intended, dtype=np.float64))
        goal = self.goals[0]
        t0, t1 = self.now, self.now + self.dt
        events: list[tuple[float, bool, str]] = []  # (time, pressed, key)
        self._motion_keys(goal[:3], t0, events)
        self._gripper_key(goal[3] > 0.5, t0, events)
        for key, when in list(self.release_at.items()):
            if when < t1:
                events.append((max(when, t0), False, key))
                del self.release_at[key]
                if key in MOTION_KEYS:
                    self.released[MOTION_KEYS[key][0]] = max(when, t0)
        for when, pressed, key in sorted(events):
            self.now = when
            (self.teleop.press if pressed else self.teleop.release)(key)
        self.now = t1
        return self.teleop.action()

    def _motion_keys(self, goal: np.ndarray, t0: float, events: list[tuple[float, bool, str]]) -> None:
        """Press, keep holding or plan to let go of the arrow and Shift keys towards `goal`."""
        errors = goal - self.teleop.target.astype(np.float64)
        moving = [k for k in self.release_at if k not in GRIPPER_KEYS]
        order = np.argsort(-np.abs(errors)) if self.params.one_axis else range(3)
        for axis in order:
            err = float(errors[axis])
            down, up = AXIS_KEYS[axis]
            key, other = (up, down) if err > 0 else (down, up)
            if other in self.release_at:
                self.release_at[other] = min(self.release_at[other], t0)  # reversing: let go first
            if abs(err) <= self.params.dead_band_m:
                continue
            if axis == 2 and float(np.max(np.abs(errors[:2]))) > ABOVE_M:
                continue  # over the cube first, then up or down
            if axis == 2 and err < 0 and not self._looked(t0):
                continue
            if self._hesitating(t0):
                continue
            until = t0 + self._hold(abs(err))
            if key in self.release_at:
                self.release_at[key] = max(self.release_at[key], until)
                continue
            if t0 - self.released[axis] < self.params.reaction * self.dt:
                continue  # where it stopped is seen a reaction time later: then a corrective tap
            if self.params.one_axis and any(k != key for k in moving if k in self.release_at):
                continue
            press = t0 + self.rng.uniform(0.0, 0.3) * self.dt
            events.append((press, True, key))
            self.release_at[key] = max(until, press + 0.02)
            moving.append(key)

    def _looked(self, t0: float) -> bool:
        """Whether the look before the first descent is over (the gripper is over its goal now)."""
        if self.descended:
            return True
        if self.over_since is None:
            self.over_since = t0
        if t0 - self.over_since < self.params.look_s:
            return False
        self.descended = True
        return True

    def _hesitating(self, t0: float) -> bool:
        start = self.params.hesitate_at_s
        return self.params.hesitate_s > 0 and start <= t0 < start + self.params.hesitate_s

    def _hold(self, distance: float) -> float:
        """How long a key is held to move `distance` m: a long move until the target gets there, let go
        a little late; a short one is a tap timed to the distance, to within 20 %."""
        hold = distance / SPEED
        if distance > TAP_M:
            return hold + float(self.rng.uniform(*self.params.release_late))
        return hold * float(self.rng.uniform(0.8, 1.2))

    def _gripper_key(self, close: bool, t0: float, events: list[tuple[float, bool, str]]) -> None:
        """Cmd held while the gripper should be closed, pressed or let go somewhere in this frame."""
        if close == (GRIPPER_KEY in self.release_at):
            return
        when = t0 + self.rng.uniform(0.0, 1.0) * self.dt
        if close:
            events.append((when, True, GRIPPER_KEY))
            self.release_at[GRIPPER_KEY] = np.inf
        else:
            self.release_at[GRIPPER_KEY] = when
