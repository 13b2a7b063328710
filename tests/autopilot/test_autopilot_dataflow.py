"""End to end: `dora run dataflow-autopilot.yaml` headless records 3 episodes and exits 0 by itself, with the
injected defects' ground truth beside the dataset and the camera defect really in the recorded video."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_dataflow

from sim_teleop.control.defects import DefectConfig, plan_for_episode
from sim_teleop.dataset.sidecar import EpisodeSidecar

pytestmark = pytest.mark.dataflow
EPISODES = 3


def _defects_config(tmp_path: Path) -> tuple[Path, DefectConfig]:
    """A config plus a plan seed giving: episode 0 clean, 1 a dark front camera, 2 a pause."""
    data = {"probability": 0.7, "severity": [0.8, 1.0], "cameras": ["front"], "families": ["dark", "pause"]}
    base = DefectConfig.from_dict(data)
    for seed in range(2000):
        plans = [plan_for_episode(base, seed, i).annotation()["defects"] for i in range(EPISODES)]
        if (
            plans[0] == []
            and [d["family"] for d in plans[1]] == ["dark"]
            and [d["family"] for d in plans[2]] == ["pause"]
        ):
            break
    else:
        pytest.fail("no plan seed with the wanted pattern")
    path = tmp_path / "defects.json"
    path.write_text(json.dumps({**data, "seed": seed}))
    return path, DefectConfig.from_dict({**data, "seed": seed})


def test_autopilot_records_episodes_headless_and_exits(tmp_path: Path, dora_env: dict[str, str]) -> None:
    defects_path, cfg = _defects_config(tmp_path)
    root = tmp_path / "dataset"
    stats = tmp_path / "stats.json"
    env = {
        **dora_env,
        "AUTOPILOT_EPISODES": str(EPISODES),
        "RECORD_ROOT": str(root),
        "DEFECTS_CONFIG": str(defects_path),
        "AUTOPILOT_STATS": str(stats),
    }
    env.pop("AUTOPILOT_TICK_MS", None)
    flow = REPO / "dataflow-autopilot.yaml"
    text = run_dataflow(flow, env, tmp_path / "dora.log", timeout=240, console=True)
    progress = [line for line in text.splitlines() if "[expert] episode " in line]
    assert len(progress) == EPISODES and all("success=True" in line for line in progress), progress

    # The console, as `./run autopilot` shows it: our nodes' lines, one per episode per node
    # (expert, scorer, recorder), start and end summaries, and one line counting dora's hidden ones.
    lines = text.splitlines()
    node_line = re.compile(r"^\d\d:\d\d:\d\d \[(sim|clock|expert|scorer|recorder)\] ")
    ours = [line for line in lines if node_line.match(line)]
    assert lines[-1].startswith("[dora] ") and "hidden" in lines[-1], lines[-4:]
    assert len(ours) == len(lines) - 1, [line for line in lines if line not in ours]
    per_episode = [line for line in ours if re.search(r"\] (episode \d|saved attempt)", line)]
    assert len(per_episode) == 3 * EPISODES, per_episode
    assert len(ours) - len(per_episode) <= 12, ours  # start and end summaries

    summary = json.loads(stats.read_text())
    assert summary["episodes"] == EPISODES and summary["successes"] == EPISODES

    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset("local/autopilot_test", root=root)
    assert ds.num_episodes == EPISODES
    success = np.array(ds.hf_dataset["next.success"]).reshape(-1)
    episode = np.array(ds.hf_dataset["episode_index"]).reshape(-1)
    assert sorted(set(episode[success].tolist())) == list(range(EPISODES))  # each ends with a success

    sidecar = EpisodeSidecar(root)
    for i in range(EPISODES):
        rec = sidecar.get(i)
        assert rec is not None and rec["end_reason"] == "success"
        expected = plan_for_episode(cfg, cfg.seed, rec["sim_episode_index"]).annotation()
        assert rec["annotation"] == expected, (i, rec)
        assert rec["quality"] is not None

    # The dark front camera of episode 1 is in the recorded video; its wrist camera and episode 0 are not.
    def mean_image(ep: int, key: str) -> float:
        start = int(np.flatnonzero(episode == ep)[0])
        return float(ds[start + 5][key].float().mean())

    front, wrist = "observation.images.front", "observation.images.wrist"
    assert mean_image(1, front) < 0.3 * mean_image(0, front)
    assert mean_image(1, wrist) > 0.6 * mean_image(0, wrist)
