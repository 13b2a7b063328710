"""A dataset of another layout, written by lerobot (`LeRobotDataset.create`): a 6-joint arm (6-D joint
state, 7-D action with a gripper), one 240x320 camera, 15 fps, no success column. Without an end-effector
position the scorer reads motion in each joint's own range: a camera stuck half-way and a one-frame
action spike are found, and the clean episodes pass (no pick-cube time reference either)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

FPS = 15
FRAMES = 40
H, W = 240, 320
JOINTS = [f"joint_{k}.pos" for k in range(6)]
ACTIONS = [*JOINTS, "gripper.pos"]
CLEAN, STUCK, SPIKE = (0, 1, 2), 3, 4
SCRIPT = REPO / "scripts" / "score_dataset.py"


def _image(rng: np.random.Generator, t: int) -> np.ndarray:
    """A textured view that shifts as the arm moves."""
    ramp = (np.arange(W)[None, :] * 3 + np.arange(H)[:, None] * 2 + 5 * t) % 256
    img = np.repeat(ramp[:, :, None], 3, axis=2) + rng.integers(0, 25, (H, W, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = tmp_path_factory.mktemp("joint6") / "ds"
    camera = {"dtype": "video", "shape": (H, W, 3), "names": ["height", "width", "channels"]}
    features = {
        "observation.state": {"dtype": "float32", "shape": (6,), "names": JOINTS},
        "action": {"dtype": "float32", "shape": (7,), "names": ACTIONS},
        "observation.images.cam": camera,
    }
    ds = LeRobotDataset.create(repo_id="local/joint6", fps=FPS, features=features, root=root, use_videos=True)
    rng = np.random.default_rng(7)
    for ep in range(5):
        phase = rng.uniform(0, np.pi, 6)
        for t in range(FRAMES):
            s = t / (FRAMES - 1)
            joints = (0.4 * np.sin(np.pi * s + phase) * (1 + 0.1 * np.arange(6))).astype(np.float32)
            action = np.concatenate([joints, [1.0 if t >= FRAMES // 2 else 0.0]]).astype(np.float32)
            if ep == SPIKE and t == FRAMES // 2:
                action[2] += 0.6  # one frame: the command jumps and comes back
            if not (ep == STUCK and t > FRAMES // 2):  # stuck: the same image from half-way on
                image = _image(rng, t)
            row = {"observation.state": joints, "action": action, "observation.images.cam": image}
            ds.add_frame({**row, "task": "reach"})
        ds.save_episode()
    ds.finalize()
    return root


@pytest.mark.dataflow  # starts a Python subprocess
def test_joint_arm_defects_found_and_clean_episodes_pass(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(dataset), "--json", str(out)],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert "frozen" not in result["not_computed"] and "spike" not in result["not_computed"]
    reports = {r["episode_index"]: r for r in result["episodes"]}
    for ep in CLEAN:
        assert reports[ep]["verdict"] == "good", (ep, reports[ep]["reasons"], reports[ep]["subscores"])
    assert "frozen" in reports[STUCK]["reasons"], reports[STUCK]["subscores"]
    assert reports[SPIKE]["reasons"] == ["spike"], reports[SPIKE]["subscores"]
