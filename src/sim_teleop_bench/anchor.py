"""The anchor toolkit's scoring formulas, re-implemented from their definitions.

Only for the benchmark: it shows what the offline toolkit would say about the same episodes.
Definitions (anchor defaults; T frames, state s_t over ALL state dimensions in their mixed units):

- smoothness = exp(-RMS(d2 s / dt^2) / 1000)
- collision  = 1 - fraction of steps where any dimension's |d2 s / dt^2| > 15 x that dimension's median
  (a median of 0 makes every non-zero change a spike - kept as is, that is the anchor's behaviour)
- runtime    = 1 inside the Tukey fences [Q1 - 1.5 IQR, Q3 + 1.5 IQR] of all episode durations of the
  dataset, else 0 (needs the whole dataset first: offline only)
- actuator_sat = exp(-4 x fraction of steps where any |a_t - s_t+1| > 7): the anchor subtracts the
  state (T x 18) from the action (T x 4), which crashes on gym-hil data. Work-around used here: compare
  the action with the state columns it commands (TCP offset from the first frame, gripper / 255).
- visual_clarity = 1 - mean penalty over every 60th decoded frame, penalty = max(blur, exposure) with
  blur = 1 - min(var(Laplacian) / 80, 1) and exposure = (50 - mean grey) / 50 when mean grey < 50;
  an episode shorter than 60 frames has no sample and scores 0.
- aggregate = weighted arithmetic mean (visual 20, smoothness 10, collision 10, runtime 20, sat 10).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim_teleop.images import grey

WEIGHTS = {
    "visual_clarity": 20.0,
    "smoothness": 10.0,
    "collision": 10.0,
    "runtime": 20.0,
    "actuator_sat": 10.0,
}
SAMPLE_EVERY = 60


def smoothness(states: np.ndarray, dt: float) -> float:
    if len(states) < 3:
        return 1.0
    accel = np.diff(states, 2, axis=0) / dt**2
    return float(np.exp(-np.sqrt(np.mean(accel**2)) / 1000.0))


def collision(states: np.ndarray, dt: float) -> float:
    if len(states) < 3:
        return 1.0
    accel = np.abs(np.diff(states, 2, axis=0) / dt**2)
    limit = 15.0 * np.median(accel, axis=0, keepdims=True)
    return float(max(0.0, 1.0 - np.mean(np.any(accel > limit, axis=1))))


def actuator_saturation(states: np.ndarray, actions: np.ndarray, threshold: float = 7.0) -> float:
    """Work-around for the 4-D action: compare with the commanded state columns (see module doc)."""
    if len(states) < 2:
        return 1.0
    commanded = np.concatenate([states[:, 15:18] - states[:1, 15:18], states[:, 14:15]], axis=1)
    diff = np.abs(actions[:-1, :4] - commanded[1:])
    return float(np.exp(-4.0 * np.mean(np.any(diff > threshold, axis=1))))


def laplacian_variance(g: np.ndarray) -> float:
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def frame_penalty(image: np.ndarray) -> float:
    g = grey(image)
    blur = 1.0 - min(laplacian_variance(g) / 80.0, 1.0)
    mean = float(g.mean())
    exposure = (50.0 - mean) / 50.0 if mean < 50.0 else 0.0
    return max(blur, exposure)


def visual_clarity(frames: Sequence[np.ndarray]) -> float:
    """Every SAMPLE_EVERY-th frame (1-based count, as the anchor's reader loop does)."""
    penalties = [frame_penalty(frames[i]) for i in range(SAMPLE_EVERY - 1, len(frames), SAMPLE_EVERY)]
    return 0.0 if not penalties else max(0.0, 1.0 - float(np.mean(penalties)))


def runtime_scores(durations: Sequence[float]) -> list[float]:
    d = np.asarray(durations, dtype=np.float64)
    if len(d) == 0:
        return []
    q1, q3 = np.percentile(d, [25, 75])
    iqr = q3 - q1
    lo, hi = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    return [1.0 if lo <= x <= hi else 0.0 for x in d]


def episode_scores(
    states: np.ndarray, actions: np.ndarray, dt: float, videos: Sequence[Sequence[np.ndarray]] = ()
) -> dict[str, float]:
    """Per-episode anchor scores (runtime needs the dataset: see `finish_dataset`)."""
    out = {
        "smoothness": smoothness(states, dt),
        "collision": collision(states, dt),
        "actuator_sat": actuator_saturation(states, actions),
    }
    if videos:
        # The anchor scores each camera's video separately; we keep the worse one per episode.
        out["visual_clarity"] = min(visual_clarity(v) for v in videos)
    return out


def finish_dataset(per_episode: list[dict[str, float]], durations: Sequence[float]) -> list[dict[str, float]]:
    """Add the dataset-wide runtime score and the weighted arithmetic-mean aggregate."""
    out = []
    for scores, runtime in zip(per_episode, runtime_scores(durations), strict=True):
        s = dict(scores, runtime=runtime)
        keys = [k for k in WEIGHTS if k in s]
        s["aggregate"] = sum(WEIGHTS[k] * s[k] for k in keys) / sum(WEIGHTS[k] for k in keys)
        out.append(s)
    return out
