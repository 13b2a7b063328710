"""Which frames of a demonstration to train on: a person's pauses left out, or only a person's corrections.

Why: a person at the keyboard stops to look (0.3-1.5 s before descending, 0.2-0.8 s reactions). In
those frames the command stands still while the scene looks like frames where it moves on, so a policy
cloned from them learns that standing still is a fine answer anywhere: on 50 held-out placements,
policies trained on 25, 50 and 100 keyboard demonstrations succeeded 30-36 % of the time, and the
simulated corrector took over for "no progress toward the cube for 1.5 s" in most of their failures.
Leaving the still frames out keeps every movement and every grasp: the frames around a gripper change
stay (the fingers close while the command holds still, and the lift must wait for them).
"""

from __future__ import annotations

import numpy as np

STILL_M = 1e-6
"""An action that moved less than this (m, and no gripper change) from the frame before stands still."""
GRASP_HOLD_FRAMES = 15
"""Frames after a gripper change that are always kept (1.5 s at 10 fps: the fingers closing)."""


def moving_frames(
    actions: np.ndarray, gripper: int = 3, grasp_hold: int = GRASP_HOLD_FRAMES, keep_last: int = 1
) -> np.ndarray:
    """A bool mask over one episode's frames (`actions`: (n, d), position first, the gripper command
    at index `gripper`): True for the first frame, frames whose action moved, the `grasp_hold` frames
    from each gripper change, and the last `keep_last` frames (the success)."""
    n = len(actions)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    step = np.abs(np.diff(actions, axis=0))
    position = np.delete(step, gripper, axis=1) if actions.shape[1] > gripper else step
    grip_changed = step[:, gripper] > STILL_M if actions.shape[1] > gripper else np.zeros(n - 1, bool)
    keep[0] = True
    keep[1:] = (position > STILL_M).any(axis=1) | grip_changed
    for change in np.flatnonzero(grip_changed) + 1:
        keep[change : change + grasp_hold] = True
    if keep_last > 0:
        keep[-keep_last:] = True
    return keep


def correction_frames(intervention: np.ndarray) -> np.ndarray:
    """A bool mask over one episode's frames (`intervention`: (n,) or (n, 1) bool): in an episode a
    person took over, only the frames they drove (the policy's frames before, stalled or wandering,
    are what it should not learn again); an episode nobody took over (a demonstration, an autonomous
    rollout) whole."""
    n = len(intervention)
    flags = np.asarray(np.asarray(intervention, dtype=bool).reshape(n, -1).any(axis=1), dtype=bool)
    return flags if flags.any() else np.ones(n, dtype=bool)
