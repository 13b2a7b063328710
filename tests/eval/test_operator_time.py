"""Operator time from a dataset LeRobot's own API wrote: lengths from its metadata, the keys between."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim_teleop.eval.operator_time import (
    BETWEEN_EPISODES_S,
    demonstration_time,
    episode_lengths,
    watched_time,
)


def _dataset(root: Path, lengths: list[int], fps: int) -> Path:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset.create(
        repo_id="local/operator_time",
        fps=fps,
        features={"action": {"dtype": "float32", "shape": (4,), "names": None}},
        root=root,
        use_videos=False,
    )
    for n in lengths:
        for _ in range(n):
            ds.add_frame({"action": np.zeros(4, np.float32), "task": "pick"})
        ds.save_episode()
    ds.finalize()
    return root


def test_demonstrations_cost_their_length_and_the_keys_between(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", [12, 30, 5], fps=10)
    assert episode_lengths(root) == [12, 30, 5]
    t = demonstration_time(root)
    assert t.episodes == 3
    assert t.recorded_s == pytest.approx(4.7)
    assert t.operator_s == pytest.approx(4.7 + 3 * BETWEEN_EPISODES_S)
    assert t.operator_min == pytest.approx(t.operator_s / 60)
    assert demonstration_time(root, between_s=0.0).operator_s == pytest.approx(4.7)


def test_a_watched_eval_costs_every_frame_at_its_fps(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", [40, 200], fps=20)
    t = watched_time(root)
    assert (t.episodes, t.recorded_s, t.operator_s) == (2, pytest.approx(12.0), pytest.approx(12.0))
