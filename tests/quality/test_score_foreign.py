"""Offline scoring of LeRobot v3.0 datasets recorded by other tools: other state/action layouts, cameras,
image sizes and fps, with and without a success column.

The datasets are written by lerobot itself (`LeRobotDataset.create`), small (2 episodes of 20 frames,
tiny images), and scored by `scripts/score_dataset.py` as a user runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from sim_teleop.config import ConfigError
from sim_teleop.dataset.reader import read_info
from sim_teleop.messages import ACTION_NAMES, STATE_NAMES
from sim_teleop.quality.config import QualityConfig, SignalLayout
from sim_teleop.quality.layout import (
    NO_BOUNDS,
    NO_CMD,
    NO_MOTION,
    NO_SUCCESS,
    NO_TCP,
    infer_layout,
    missing_metrics,
    not_computed,
    not_computed_line,
)
from sim_teleop.quality.offline import offline_config
from sim_teleop.quality.scorer import aggregate

FRAMES = 20
JOINTS = [f"{j}.pos" for j in ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll")]
JOINT_STATE = [*JOINTS, "wrist_yaw.pos", "gripper.pos"]  # 6 joints + gripper, as an SO-100-like arm
TCP_STATE = [*JOINTS, "gripper.pos", "ee.x", "ee.y", "ee.z"]


def _vector(names: list[str]) -> dict:
    return {"dtype": "float32", "shape": (len(names),), "names": names}


def _camera(h: int, w: int) -> dict:
    return {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]}


def _image(rng: np.random.Generator, shape: tuple[int, ...], t: int) -> np.ndarray:
    """A moving gradient with noise: edges to judge blur by, a change from frame to frame."""
    h, w, _ = shape
    ramp = (np.arange(w)[None, :] * 4 + np.arange(h)[:, None] * 2 + 6 * t) % 256
    img = np.repeat(ramp[:, :, None], 3, axis=2) + rng.integers(0, 20, shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_foreign(
    root: Path, state_names: list[str], cameras: dict[str, tuple[int, int]], success: bool
) -> Path:
    """2 episodes of a joint-space arm at 30 fps: the joints sweep, the gripper closes once; with TCP
    names in the state, its last three elements move like an end effector."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    features = {"observation.state": _vector(state_names), "action": _vector(JOINT_STATE)}
    features |= {f"observation.images.{cam}": _camera(h, w) for cam, (h, w) in cameras.items()}
    if success:
        features["next.success"] = {"dtype": "bool", "shape": (1,), "names": None}
    ds = LeRobotDataset.create(repo_id="local/foreign", fps=30, features=features, root=root, use_videos=True)
    rng = np.random.default_rng(3)
    for ep in range(2):
        for t in range(FRAMES):
            s = t / (FRAMES - 1)
            grip = 1.0 if t >= FRAMES // 2 else 0.0
            action = np.array([0.3 * s, -0.2 * s, 0.1 * s, 0.05 * ep, 0.0, 0.1 * s, grip], np.float32)
            state = action.copy()
            if "ee.x" in state_names:
                state = np.concatenate([action[:5], [grip], [0.4 + 0.1 * s, 0.05 * ep, 0.3 - 0.2 * s]])
            row = {"observation.state": state.astype(np.float32), "action": action, "task": "pick"}
            for cam, (h, w) in cameras.items():
                row[f"observation.images.{cam}"] = _image(rng, (h, w, 3), t)
            if success:
                row["next.success"] = np.array([t == FRAMES - 1])
            ds.add_frame(row)
        ds.save_episode()
    ds.finalize()
    return root


def score(root: Path, out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "score_dataset.py"),
            "--root",
            str(root),
            "--json",
            str(out),
            *args,
        ],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc, json.loads(out.read_text())


@pytest.fixture(scope="module")
def joint_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("foreign") / "joint"
    return make_foreign(root, JOINT_STATE, {"top": (96, 96)}, success=False)


@pytest.mark.dataflow  # starts a Python subprocess
def test_joint_space_dataset_scores_on_what_it_has(joint_dataset: Path, tmp_path: Path) -> None:
    """7-D joint state and action, one 96x96 camera, 30 fps, no next.success: it scores, one line names
    what was not computed and why, and those metrics are neither in the score nor reasons; `spike` and
    `frozen` are computed from the joints in their own ranges."""
    proc, result = score(joint_dataset, tmp_path / "scores.json")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("not computed:")]
    assert lines == [
        "not computed: jitter, idle, saturation (no end-effector position or commanded target); "
        "drop, path, lag (no end-effector position in observation.state); detour (no commanded "
        "target in action); success gate (no next.success column)"
    ]
    assert result["success_gate"] is False
    # spike and frozen read the joints in their own ranges (`quality.joints`)
    assert set(result["not_computed"]) == {
        *("jitter", "idle", "saturation", "drop", "detour", "path", "lag", "success gate")
    }
    weights = QualityConfig().weights
    for report in result["episodes"]:
        assert report["num_frames"] == FRAMES
        assert set(report["subscores"]) == {
            "spike",
            "gripper_chatter",
            "slow",
            "telemetry_freeze",  # the recording's integrity needs only state, action and frame numbers
            "gap",
            "top.dark",
            "top.overexposed",
            "top.blur",
            "top.frozen",
        }
        assert "failed" not in report["reasons"]  # no gate: nothing multiplied by the failure factor
        assert {r.rsplit(".", 1)[-1] for r in report["reasons"]} <= {
            "spike",
            "frozen",
            "gripper_chatter",
            "slow",
            "telemetry_freeze",
            "gap",
            "dark",
            "overexposed",
            "blur",
        }
        assert report["score"] == pytest.approx(aggregate(report["subscores"], weights), abs=1e-5)
    assert " n/a " in proc.stdout  # the success column of the table


@pytest.mark.dataflow  # starts a Python subprocess
def test_three_cameras_of_other_sizes_with_a_tcp(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """A state that names the end effector: the TCP metrics run; each of three cameras of other sizes
    gets its camera metrics; the success column gates."""
    cameras = {"high": (96, 96), "low": (64, 80), "hand": (48, 64)}
    root = make_foreign(tmp_path_factory.mktemp("foreign") / "tcp", TCP_STATE, cameras, success=True)
    proc, result = score(root, tmp_path / "scores.json", "--stride", "4")
    assert (
        "not computed: saturation (no workspace bounds or command limit in the layout); detour, lag (no "
        in proc.stdout
    )
    assert set(result["not_computed"]) == {"saturation", "detour", "lag"} and result["success_gate"] is True
    for report in result["episodes"]:
        subs = report["subscores"]
        for cam in cameras:
            assert {f"{cam}.{k}" for k in ("dark", "overexposed", "blur", "frozen")} <= set(subs), cam
            assert report["metrics"][f"{cam}.images"] >= 2
        assert {"jitter", "idle", "spike", "drop", "path", "gripper_chatter", "slow"} <= set(subs)
        assert "detour" not in subs and "saturation" not in subs
        assert report["success"] is True


def test_a_given_layout_wins_and_must_fit(joint_dataset: Path) -> None:
    info = read_info(joint_dataset)
    given = SignalLayout(tcp=None, state_gripper=6, action_xyz=(0, 1, 2), action_gripper=None)
    cfg = offline_config(QualityConfig(layout=given, layout_given=True), info)
    # Given, except the joint-slip check: its coefficients are gym-hil's Panda controller's.
    assert cfg.layout == replace(given, joint_pos=None, joint_vel=None) and "detour" not in not_computed(cfg)
    with pytest.raises(ConfigError, match=r"tcp=.*7-D"):
        offline_config(QualityConfig(layout_given=True), info)  # this project's 18-D layout


def test_layout_inference_from_names() -> None:
    ours = SignalLayout(state_gripper_max=7.0)
    assert infer_layout(STATE_NAMES, ACTION_NAMES, ours) is ours  # own datasets: as configured
    joint = infer_layout(JOINT_STATE, JOINT_STATE, ours)
    assert (joint.tcp, joint.action_xyz, joint.state_gripper, joint.action_gripper) == (None, None, 6, 6)
    assert joint.workspace_low is None and joint.action_xyz_limit is None
    tcp = infer_layout([*TCP_STATE, "ee.vel.x"], ["target.x", "target.y", "target.z", "gripper"], ours)
    assert (tcp.tcp, tcp.action_xyz, tcp.state_gripper, tcp.action_gripper) == ((6, 7, 8), (0, 1, 2), 5, 3)
    # A bare x in a state may be anything's; a step (delta_x) is not a commanded position.
    odd = infer_layout(["x", "y", "z", "gripper_vel"], ["delta_x", "delta_y", "delta_z"], ours)
    assert (odd.tcp, odd.action_xyz, odd.state_gripper, odd.action_gripper) == (None, None, None, None)
    assert missing_metrics(SignalLayout()) == {}
    assert missing_metrics(joint) == {
        "jitter": NO_MOTION,
        "idle": NO_MOTION,
        "spike": NO_TCP,
        "saturation": NO_MOTION,
        "drop": NO_TCP,
        "detour": NO_CMD,
        "path": NO_TCP,
        "frozen": NO_TCP,
        "lag": NO_TCP,
    }
    assert missing_metrics(tcp) == {"saturation": NO_BOUNDS}
    line = not_computed_line(not_computed(QualityConfig(layout=tcp, success_gate=False, cameras=())))
    assert line == f"not computed: saturation ({NO_BOUNDS}); success gate ({NO_SUCCESS})"


def test_dict_names_are_read_in_order() -> None:
    from sim_teleop.dataset.features import state_names

    info = {"features": {"observation.state": {"names": {"motors": ["a", "b"], "ee": ["ee.x"]}}}}
    assert state_names(info) == ["a", "b", "ee.x"]
