"""One episode for the page's episode view: state and action traces on one time axis, and where in time
its worst stretch is.

The scorer reports per-episode values only (no frame positions), so the stretch is located here from
the same columns it read, for the family of the episode's worst motion sub-score: for `idle` and `slow`
the longest standstill of the end effector (or of the command), for the other motion and integrity
families the one-second window where the command changes most abruptly (its second difference, each
dimension scaled by its spread). Camera families (dark, blur, frozen, ...) have no trace to locate them
on; the page says so. Injected defects (the sidecar's ground truth) come with their own frame spans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim_teleop.dataset.features import action_names, state_names
from sim_teleop.dataset.reader import DatasetReader
from sim_teleop.quality.layout import xyz_indices

STANDSTILL_M_PER_S = 0.01
"""Slower than this the end effector (or the command) counts as standing still."""
CAMERA_FAMILIES = frozenset({"dark", "overexposed", "blur", "frozen", "partial_view"})
STILL_FAMILIES = frozenset({"idle", "slow"})
MAX_POINTS = 2000
"""Longer episodes are thinned to this many samples for drawing."""


def _longest_run(mask: np.ndarray) -> tuple[int, int] | None:
    """(first, last) frame of the longest run of True."""
    best: tuple[int, int] | None = None
    start = None
    for t, flag in enumerate([*mask.tolist(), False]):
        if flag and start is None:
            start = t
        elif not flag and start is not None:
            if best is None or t - 1 - start > best[1] - best[0]:
                best = (start, t - 1)
            start = None
    return best


def standstill(position: np.ndarray, fps: float) -> tuple[int, int] | None:
    """The longest stretch (frames) where `position` (T, 3) moves slower than STANDSTILL_M_PER_S."""
    if len(position) < 2:
        return None
    speed = np.linalg.norm(np.diff(position, axis=0), axis=1) * fps
    run = _longest_run(speed < STANDSTILL_M_PER_S)
    return None if run is None else (run[0], run[1] + 1)


def abrupt_window(action: np.ndarray, fps: float) -> tuple[int, int] | None:
    """The one-second window (frames) where the command's scaled second difference is largest."""
    if len(action) < 3:
        return None
    spread = action.std(axis=0)
    scaled = action / np.where(spread > 1e-9, spread, 1.0)
    energy = np.abs(np.diff(scaled, n=2, axis=0)).sum(axis=1)  # energy[k]: around frame k + 1
    width = max(1, min(len(energy), round(fps)))
    sums = np.convolve(energy, np.ones(width), mode="valid")
    if not len(sums) or float(sums.max()) <= 0.0:
        return None
    k = int(np.argmax(sums))
    return (k, min(len(action) - 1, k + width + 1))


def worst_family(subscores: dict[str, float]) -> str | None:
    if not subscores:
        return None
    key = min(subscores, key=lambda k: subscores[k])
    return key.rsplit(".", 1)[-1]


def worst_stretch(
    state: np.ndarray, action: np.ndarray, fps: float, info: dict[str, Any], subscores: dict[str, float]
) -> dict[str, Any]:
    """{'family', 'from', 'to' (frames) or 'why' (no position)} for the worst sub-score's family."""
    family = worst_family(subscores)
    if family is None:
        return {"family": None, "why": "no sub-scores in this episode's quality report"}
    if family in CAMERA_FAMILIES:
        return {"family": family, "why": "a camera metric: see the videos, the traces cannot place it"}
    tcp = xyz_indices(state_names(info), action=False)
    cmd = xyz_indices(action_names(info), action=True)
    span: tuple[int, int] | None
    if family in STILL_FAMILIES:
        source = state[:, list(tcp)] if tcp else action[:, list(cmd)] if cmd else None
        span = standstill(source, fps) if source is not None else None
        how = "longest standstill"
    else:
        span = abrupt_window(action, fps)
        how = "most abrupt second of the command"
    if span is None:
        return {"family": family, "why": f"no {how} found"}
    return {"family": family, "from": span[0], "to": span[1], "how": how}


def _thin(values: np.ndarray) -> list[list[float]]:
    step = max(1, -(-len(values) // MAX_POINTS))
    return np.round(values[::step].astype(np.float64), 5).tolist()


def episode_detail(root: Path, index: int, subscores: dict[str, float]) -> dict[str, Any]:
    """Traces (time in s from the episode's first frame), names and the worst stretch of one episode."""
    with DatasetReader(root) as reader:
        pos = next((n for n, m in enumerate(reader.episodes) if int(m["episode_index"]) == index), None)
        if pos is None:
            raise KeyError(f"episode {index} is not in the dataset (it holds {len(reader)})")
        ep = reader.episode(pos)
        fps, info = reader.fps, reader.info
    t = ep.frame_numbers(fps) / fps
    step = max(1, -(-len(t) // MAX_POINTS))
    return {
        "i": index,
        "fps": fps,
        "t": np.round(t[::step], 4).tolist(),
        "state": {"names": state_names(info) or [], "values": _thin(ep.state)},
        "action": {"names": action_names(info) or [], "values": _thin(ep.action)},
        "stretch": worst_stretch(ep.state, ep.action, fps, info, subscores),
    }
