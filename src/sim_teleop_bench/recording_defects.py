"""Defects of the recording pipeline, applied to an already recorded episode (benchmark ground truth).

The motion and camera defects of `defects.py` happen while recording; these damage a good recording
afterwards, as a flaky transport or logger would, and leave the physics untouched:

- `spike`: one frame's commanded xyz jumps 5-15 cm away (a corrupt packet),
- `telemetry_freeze`: the state repeats for 3-10 frames while actions and images go on (stale telemetry),
- `gap`: 1-5 consecutive frames are missing and the rest numbered on (as in a LeRobot dataset whose
  writer assigns frame indices and timestamps itself: only the motion shows the hole),
- `lag`: the actions are stored 2-5 frames late against the states (a logging shift).

`damage(frames, family, severity, rng)` returns `(frame_number, frame)` pairs, frame numbers as they
would be derived from the timestamps.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim_teleop_bench.inprocess import RecordedFrame

RECORDING_FAMILIES: tuple[str, ...] = ("spike", "telemetry_freeze", "gap", "lag")

SPIKE_MIN_M = 0.05
SPIKE_MAX_M = 0.15


def _middle(n: int, length: int, rng: np.random.Generator) -> int:
    """A start frame that keeps `length` frames inside the middle of an `n`-frame episode."""
    lo, hi = n // 5, max(n // 5 + 1, n - n // 5 - length)
    return int(rng.integers(lo, hi))


def damage(
    frames: list[RecordedFrame], family: str, severity: float, rng: np.random.Generator
) -> list[tuple[int, RecordedFrame]]:
    """The episode `frames` with one recording defect of `family` at `severity` (0 barely .. 1 worst)."""
    n = len(frames)
    numbered = list(enumerate(frames))
    if family == "spike":
        k = _middle(n, 1, rng)
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        action = np.array(frames[k].action, dtype=np.float32, copy=True)
        action[:3] += (SPIKE_MIN_M + (SPIKE_MAX_M - SPIKE_MIN_M) * severity) * direction
        numbered[k] = (k, replace(frames[k], action=action))
        return numbered
    if family == "telemetry_freeze":
        length = 3 + round(7 * severity)
        k = _middle(n, length, rng)
        held = frames[k - 1].state
        for i in range(k, min(n, k + length)):
            numbered[i] = (i, replace(frames[i], state=np.array(held, copy=True)))
        return numbered
    if family == "gap":
        length = 1 + round(4 * severity)
        k = _middle(n, length, rng)
        kept = frames[:k] + frames[k + length :]
        return list(enumerate(kept))  # numbered on, as LeRobot's writer numbers (and times) the rows
    if family == "lag":
        shift = 2 + round(3 * severity)
        actions = [frames[max(0, i - shift)].action for i in range(n)]
        return [
            (i, replace(f, action=np.array(a, copy=True)))
            for (i, f), a in zip(numbered, actions, strict=True)
        ]
    raise ValueError(f"unknown recording defect family {family!r} (known: {', '.join(RECORDING_FAMILIES)})")
