"""Resizing a recorded dataset for training (`dataset.resize`, behind scripts/resize_dataset.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.resize import resize_dataset, resized_features
from sim_teleop.dataset.sidecar import SIDECAR_RELPATH
from sim_teleop.images import resize_image
from sim_teleop_bench.tiny_policy import make_tiny_dataset

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_tiny_dataset(tmp_path_factory.mktemp("resize") / "data", episodes=2, frames=6)
    (root / SIDECAR_RELPATH).write_text(json.dumps({"episode_index": 0, "quality": {"score": 0.9}}) + "\n")
    return root


def test_copy_keeps_rows_and_shrinks_each_camera(recorded: Path, tmp_path: Path) -> None:
    from lerobot.datasets import LeRobotDataset

    lines: list[str] = []
    out = tmp_path / "small"
    assert resize_dataset(recorded, out, 32, say=lines.append) == 2
    src = LeRobotDataset("local/data", root=recorded)
    dst = LeRobotDataset("local/small", root=out)
    assert (dst.meta.total_episodes, dst.meta.total_frames) == (2, 12)
    assert dst.meta.features["observation.images.front"]["shape"] == (32, 32, 3)
    for i in (0, 5, 11):
        a, b = src[i], dst[i]
        np.testing.assert_array_equal(a["action"].numpy(), b["action"].numpy())
        np.testing.assert_array_equal(a["observation.state"].numpy(), b["observation.state"].numpy())
        assert tuple(b["observation.images.wrist"].shape) == (3, 32, 32)
        # the same area resize the policy node applies at eval, up to the codec's loss
        expected = resize_image(
            (a["observation.images.front"].permute(1, 2, 0).numpy() * 255).astype(np.uint8), 32, 32
        )
        got = (b["observation.images.front"].permute(1, 2, 0).numpy() * 255).astype(np.float32)
        assert np.abs(got - expected.astype(np.float32)).mean() < 12
    assert (out / SIDECAR_RELPATH).read_text() == (recorded / SIDECAR_RELPATH).read_text()
    assert len(lines) == 1 and lines[0].startswith("[resize] 2/2 episodes")


def test_refuses_to_upscale_or_overwrite(recorded: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="will not upscale to 256x256"):
        resize_dataset(recorded, tmp_path / "big", 256)
    assert not (tmp_path / "big").exists()
    with pytest.raises(DatasetError, match="exists"):
        resize_dataset(recorded, recorded, 32)


def test_features_say_the_new_shape() -> None:
    features = {
        "cam": {"dtype": "video", "shape": (128, 96, 3)},
        "action": {"dtype": "float32", "shape": (4,)},
    }
    out = resized_features(features, ["cam"], 64)
    assert out["cam"]["shape"] == (64, 64, 3) and out["action"] == {"dtype": "float32", "shape": (4,)}
    with pytest.raises(DatasetError, match="96"):
        resized_features({"cam": {"dtype": "video", "shape": (128, 96, 3)}}, ["cam"], 100)
