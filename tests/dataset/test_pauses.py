"""Leaving a person's pauses out of a training copy (`dataset.pauses`, `resize_dataset(drop_pauses=True)`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sim_teleop.dataset.pauses import GRASP_HOLD_FRAMES, moving_frames
from sim_teleop.dataset.resize import resize_dataset

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _episode() -> np.ndarray:
    """Still at the start (3), move (4), look (5), move (2), close and hold still (20), lift (3)."""
    rows: list[list[float]] = []
    x, z = 0.0, 0.0

    def hold(n: int, g: float) -> None:
        rows.extend([[x, 0.0, z, g]] * n)

    hold(3, 0.0)
    for _ in range(4):
        x += 0.01
        hold(1, 0.0)
    hold(5, 0.0)
    for _ in range(2):
        z -= 0.01
        hold(1, 0.0)
    hold(20, 1.0)
    for _ in range(3):
        z += 0.01
        hold(1, 1.0)
    return np.array(rows)


def test_still_frames_go_moves_and_the_grasp_stay() -> None:
    actions = _episode()
    keep = moving_frames(actions)
    assert keep[0] and not keep[1:3].any()  # the wait before the first move
    assert keep[3:7].all() and not keep[7:12].any()  # the move, then the look left out
    assert keep[12:14].all()
    close = 14
    assert keep[close : close + GRASP_HOLD_FRAMES].all()  # the fingers closing: kept
    assert not keep[close + GRASP_HOLD_FRAMES : close + 20].any()
    assert keep[-3:].all() and int(keep.sum()) == 1 + 4 + 2 + GRASP_HOLD_FRAMES + 3


def test_the_last_frame_stays_and_an_empty_episode_is_empty() -> None:
    still = np.zeros((6, 4))
    assert moving_frames(still).tolist() == [True, False, False, False, False, True]
    assert moving_frames(np.zeros((0, 4))).size == 0


@pytest.mark.slow  # LeRobot writes and encodes a small dataset, then the resize re-encodes: ~10 s
def test_a_training_copy_without_pauses_loads_in_lerobot(tmp_path: Path) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    actions = _episode()
    src = LeRobotDataset.create(
        repo_id="local/pauses",
        fps=10,
        features={
            "action": {"dtype": "float32", "shape": (4,), "names": None},
            "observation.images.front": {
                "dtype": "video",
                "shape": (64, 64, 3),
                "names": ["height", "width", "channels"],
            },
        },
        root=tmp_path / "demo",
        use_videos=True,
    )
    for i, a in enumerate(actions):
        image = np.full((64, 64, 3), 4 * i, np.uint8)
        src.add_frame({"action": a.astype(np.float32), "observation.images.front": image, "task": "pick"})
    src.save_episode()
    src.finalize()
    lines: list[str] = []
    resize_dataset(tmp_path / "demo", tmp_path / "moving", 32, say=lines.append, drop_pauses=True)
    out = LeRobotDataset("local/moving", root=tmp_path / "moving")
    keep = moving_frames(actions)
    assert out.meta.total_frames == int(keep.sum())
    got = np.stack([np.asarray(out[i]["action"]) for i in range(len(out))])
    np.testing.assert_allclose(got, actions[keep].astype(np.float32))
    stamps = [float(out[i]["timestamp"]) for i in range(len(out))]
    assert stamps == pytest.approx([i / 10 for i in range(len(out))])  # contiguous at the dataset's fps
    brightness = [float(out[i]["observation.images.front"].mean()) * 255 for i in range(len(out))]
    expected = [4.0 * i for i in np.flatnonzero(keep)]
    assert np.abs(np.array(brightness) - np.array(expected)).max() < 6  # the kept frames' own images
    assert any(f"{int(keep.sum())} of {len(actions)} frames kept" in line for line in lines)


def test_the_next_test_starts_in_the_normal_scheduling_class() -> None:
    """After the in-process encoding above (SVT-AV1 sets SCHED_FIFO 99 as root), `conftest`'s
    `normal_scheduling` put this worker back, so the dora flows it starts are not real-time."""
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_only_the_frames_a_person_drove_in_an_episode_they_took_over() -> None:
    from sim_teleop.dataset.pauses import correction_frames

    taken = np.array([[False], [False], [True], [True], [False]])
    assert correction_frames(taken).tolist() == [False, False, True, True, False]
    assert correction_frames(np.zeros((3, 1), bool)).tolist() == [True, True, True]  # nobody took over
    assert correction_frames(np.array([True, False])).tolist() == [True, False]  # a flat column too


def test_corrections_only_needs_the_flag(tmp_path: Path) -> None:
    from sim_teleop.dataset import DatasetError
    from sim_teleop_bench.tiny_policy import make_tiny_dataset

    root = make_tiny_dataset(tmp_path / "demo", episodes=1, frames=4)
    with pytest.raises(DatasetError, match="no 'intervention' column"):
        resize_dataset(root, tmp_path / "out", 32, corrections_only=True)
    assert not (tmp_path / "out").exists()
