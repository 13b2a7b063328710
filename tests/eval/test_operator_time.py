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


def test_a_study_row_adds_demonstrations_and_a_watched_round(tmp_path: Path) -> None:
    """Demonstrations cost their length and the keys, the eval round every frame; success is the
    curve's last checkpoint unless a step is named, with its Wilson interval."""
    import json

    from sim_teleop.eval.loop_study import study_point, table

    _dataset(tmp_path / "demos", [30, 30], fps=10)
    _dataset(tmp_path / "round", [100], fps=10)
    points = [
        {"step": 500, "minutes": 4.0, "successes": 10, "episodes": 50},
        {"step": 1000, "minutes": 8.0, "successes": 40, "episodes": 50},
    ]
    (tmp_path / "curve.json").write_text(json.dumps({"points": points}))
    entry = {
        "arm": "corrections",
        "label": "r1",
        "demos": ["demos"],
        "watched": ["round"],
        "curve": "curve.json",
    }
    row = study_point(entry, tmp_path)
    assert row["operator_min"] == pytest.approx((6.0 + 2 * BETWEEN_EPISODES_S + 10.0) / 60, abs=0.01)
    assert (row["demonstrations"], row["eval_episodes"], row["step"], row["successes"]) == (2, 1, 1000, 40)
    assert row["ci95"][0] < 0.8 < row["ci95"][1]
    assert study_point({**entry, "step": 500}, tmp_path)["successes"] == 10
    assert "| corrections | r1 | 2 | 1 |" in table([row]) and "40/50 = 80 %" in table([row])
