"""Offline scoring and filtering of a recorded v3.0 dataset, loaded and trained on with lerobot's tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from sim_teleop_bench.tiny_policy import make_tiny_dataset, train_few_steps

REPO_ID = "local/tiny_policy_test"


def score(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "score_dataset.py"), "--repo_id", REPO_ID, *args],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.dataflow  # script subprocesses
def test_filtered_dataset_loads_and_trains(tmp_path: Path) -> None:
    from lerobot.datasets import LeRobotDataset

    data = make_tiny_dataset(tmp_path / "data", episodes=4, frames=12)
    first = score("--root", str(data), "--json", str(tmp_path / "all.json"))
    assert first.returncode == 0, first.stderr[-2000:]
    reports = json.loads((tmp_path / "all.json").read_text())["episodes"]
    assert [r["episode_index"] for r in reports] == [0, 1, 2, 3]
    assert all(0.0 <= r["score"] <= 1.0 and r["num_frames"] == 12 for r in reports)
    assert "score" in first.stdout and "episodes scored" in first.stdout  # the per-episode table

    # Keep the two best-scoring episodes.
    ranked = sorted(reports, key=lambda r: r["score"], reverse=True)
    threshold = (ranked[1]["score"] + ranked[2]["score"]) / 2
    assert ranked[1]["score"] > ranked[2]["score"]
    kept = sorted(r["episode_index"] for r in ranked[:2])
    out = tmp_path / "filtered"
    second = score(
        "--root", str(data), "--output", str(out), "--threshold", str(threshold), "--keep", "threshold"
    )
    assert second.returncode == 0, second.stderr[-2000:]

    original = LeRobotDataset(REPO_ID, root=data)
    filtered = LeRobotDataset(REPO_ID, root=out)
    assert filtered.meta.total_episodes == 2 and len(filtered) == 24
    for new_index, old_index in enumerate(kept):  # renumbered contiguously, same frames
        new_frame = filtered[new_index * 12 + 5]
        old_frame = original[old_index * 12 + 5]
        assert int(new_frame["episode_index"]) == new_index
        np.testing.assert_allclose(new_frame["action"].numpy(), old_frame["action"].numpy())

    train_few_steps(out, REPO_ID, tmp_path / "run", steps=2)


@pytest.mark.dataflow  # starts a Python subprocess
def test_bad_root_is_a_clear_error(tmp_path: Path) -> None:
    proc = score("--root", str(tmp_path / "missing"))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "missing" in (proc.stderr + proc.stdout)
