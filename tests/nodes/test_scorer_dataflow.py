"""End to end: the autopilot with injected defects through the inline scorer. Bad episodes are flagged with
the matching reason codes, reports are stored beside the dataset, and they stay right after deleting an
episode and resuming the recording."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_dataflow

from sim_teleop.control.defects import DefectConfig, plan_for_episode
from sim_teleop.dataset.sidecar import EpisodeSidecar

pytestmark = pytest.mark.dataflow
EPISODES = 5
WANTED = [[], ["chatter"], ["dark"], ["jitter"], ["detour"]]
REASON = {"chatter": "gripper_chatter", "dark": "dark", "jitter": "jitter", "detour": "detour"}


def _defects_config(tmp_path: Path) -> Path:
    data = {"probability": 0.75, "severity": [0.7, 1.0], "cameras": ["front"], "families": list(REASON)}
    base = DefectConfig.from_dict(data)
    for seed in range(100_000):
        plans = [
            [d["family"] for d in plan_for_episode(base, seed, i).annotation()["defects"]]
            for i in range(EPISODES + 1)
        ]
        if plans[:EPISODES] == WANTED:
            break
    else:
        pytest.fail("no plan seed with the wanted pattern")
    path = tmp_path / "defects.json"
    path.write_text(json.dumps({**data, "seed": seed}))
    return path


def _run(env: dict[str, str], log_path: Path) -> str:
    return run_dataflow(REPO / "dataflow-autopilot.yaml", env, log_path, timeout=300)


def test_defects_are_flagged_and_reports_survive_delete_and_resume(
    tmp_path: Path, dora_env: dict[str, str]
) -> None:
    root = tmp_path / "dataset"
    env = {
        **dora_env,
        "AUTOPILOT_EPISODES": str(EPISODES),
        "RECORD_ROOT": str(root),
        "DEFECTS_CONFIG": str(_defects_config(tmp_path)),
    }
    text = _run(env, tmp_path / "run1.log")
    assert text.count("[scorer] episode ") >= EPISODES, text[-3000:]
    assert "quality summary" in text

    sidecar = EpisodeSidecar(root)
    for i in range(EPISODES):
        rec = sidecar.get(i)
        assert rec is not None and rec.get("quality"), (i, rec)
        families = [d["family"] for d in rec["annotation"]["defects"]]
        quality = rec["quality"]
        assert quality["episode_index"] == rec["sim_episode_index"]
        if not families:
            assert quality["verdict"] == "good", (i, quality)
        for fam in families:
            assert quality["verdict"] == "bad" and REASON[fam] in quality["reasons"], (i, fam, quality)

    # Delete episode 1 (chatter): later reports move down with their episodes.
    before = {i: sidecar.get(i) for i in range(EPISODES)}
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "delete_episodes.py"),
            "--repo_id",
            "local/autopilot_test",
            "--root",
            str(root),
            "--episode_indices",
            "[1]",
        ],
        check=True,
        env=env,
        timeout=300,
    )
    sidecar = EpisodeSidecar(root)
    for i in range(1, EPISODES - 1):
        assert sidecar.get(i)["quality"] == before[i + 1]["quality"]  # type: ignore[index]
    assert sidecar.get(EPISODES - 1) is None

    # Resume: one more episode, its report stored at the next dataset index; earlier ones untouched.
    _run({**env, "RESUME_RECORDING": "1"}, tmp_path / "run2.log")
    sidecar = EpisodeSidecar(root)
    assert sorted(sidecar.records) == list(range(EPISODES))
    assert sidecar.get(1)["quality"] == before[2]["quality"]  # type: ignore[index]
    assert sidecar.get(EPISODES - 1)["quality"] is not None  # type: ignore[index]

    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    assert LeRobotDataset("local/autopilot_test", root=root).num_episodes == EPISODES
