"""Tiny LeRobotDataset v3.0 made from the real sim, with the recorded features, for the policy tests and
the handover benchmark.

Features come from the recorder's `build_features` (the exact recorded layout); the episodes are a few
short, crude scripted reaches towards the cube, enough for `lerobot-train` to compute stats and run a
few steps, made without dora so the policy tests do not depend on the autopilot dataflow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FPS = 10
TASK = "pick up the cube"


def dataset_features() -> dict[str, dict]:
    """The features the recorder writes (action 4, state 18, two 128x128 videos, next.*)."""
    from sim_teleop.dataset.features import build_features

    return build_features()


def make_tiny_dataset(
    root: Path,
    episodes: int = 3,
    frames: int = 12,
    seed: int = 7,
    features: dict[str, dict] | None = None,
    robot_type: str | None = None,
) -> Path:
    """Record `episodes` x `frames` sim steps of a scripted reach to `root` (must not exist)."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from sim_teleop.sim.env import SimEnv

    ds = LeRobotDataset.create(
        repo_id="local/tiny_policy_test",
        fps=FPS,
        features=features or dataset_features(),
        root=root,
        use_videos=True,
        robot_type=robot_type,
    )
    sim = SimEnv(seed=seed)
    try:
        for ep in range(episodes):
            obs = sim.reset(placement=ep)
            target = np.zeros(4, np.float32)
            goal = obs.cube_pose[:3] - sim.start_tcp + np.array([0.0, 0.0, 0.05], np.float32)
            for i in range(frames):
                target[:3] = goal * min(1.0, (i + 1) / (frames - 2))
                target[3] = 1.0 if i >= frames - 2 else 0.0
                ds.add_frame(
                    {
                        "action": target.copy(),
                        "observation.state": obs.state,
                        "observation.images.front": obs.front,
                        "observation.images.wrist": obs.wrist,
                        "next.reward": np.array([obs.reward], np.float32),
                        "next.success": np.array([obs.success]),
                        "next.done": np.array([i == frames - 1]),
                        "task": TASK,
                        **({"intervention": np.array([False])} if "intervention" in ds.features else {}),
                    }
                )
                obs = sim.step(target)
            ds.save_episode()
    finally:
        sim.close()
        ds.finalize()
    return root


def resize_for_training(data: Path, out: Path, size: int = 64) -> Path:
    """The recipe's `scripts/resize_dataset.py` step, run as a user runs it; returns the new root."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]  # the checkout (the package is installed editable)
    proc = subprocess.run(
        [
            sys.executable,
            str(repo / "scripts" / "resize_dataset.py"),
            f"--root={data}",
            f"--output={out}",
            f"--size={size}",
        ],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def train_few_steps(data: Path, repo_id: str, out: Path, steps: int = 3) -> Path:
    """Run the real `lerobot-train` with the headline CPU config for a few steps; returns the run dir."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]  # the checkout (the package is installed editable)
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "lerobot-train"),
            f"--config_path={repo / 'configs' / 'train_act_cpu.json'}",
            f"--dataset.root={data}",
            f"--dataset.repo_id={repo_id}",
            f"--output_dir={out}",
            f"--steps={steps}",
            f"--save_freq={steps}",
            "--batch_size=2",
            "--num_workers=0",
            "--log_freq=1",
        ],
        cwd=out.parent,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "checkpoints" / "last" / "pretrained_model" / "model.safetensors").is_file()
    return out
