"""dora's own multi-machine deployment on loopback: a coordinator and two daemons (machines A and B),
one autopilot dataflow pinned to each with its own placements and root, then one merged dataset."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, Cluster
from recorded import load
from recorder_flows import run_script

from sim_teleop.dataset.sidecar import EpisodeSidecar

pytestmark = [pytest.mark.dataflow, pytest.mark.slow, pytest.mark.cluster]
EPISODES = 2


def test_two_machines_record_in_parallel_then_merge(
    tmp_path: Path, dora_env: dict[str, str], cluster: Cluster
) -> None:
    runs: list[tuple[Path, subprocess.Popen]] = []
    for machine, seed in (("A", 0), ("B", 500)):
        flow = tmp_path / f"autopilot-{machine}.yaml"
        root = tmp_path / machine.lower()
        deploy = [REPO / "dataflow-autopilot.yaml", "--machine", machine, "--output", flow]
        sets = [f"SIM_SEED={seed}", f"RECORD_ROOT={root}", f"AUTOPILOT_EPISODES={EPISODES}"]
        proc = run_script("deploy_flow.py", *map(str, deploy), *(arg for s in sets for arg in ("--set", s)))
        assert proc.returncode == 0, proc.stderr
        log = tmp_path / f"start-{machine}.log"
        command = [
            "dora",
            "start",
            str(flow),
            "--name",
            f"part-{machine}",
            "--coordinator-port",
            str(cluster.port),
        ]
        env = {**dora_env, "AUTOPILOT_EPISODES": str(EPISODES)}
        with log.open("w") as out:
            runs.append(
                (log, subprocess.Popen([*command, "--attach"], cwd=tmp_path, env=env, stdout=out, stderr=out))
            )
    for log, run in runs:
        try:
            assert run.wait(timeout=300) == 0, log.read_text()[-3000:]
        except subprocess.TimeoutExpired:
            run.kill()
            pytest.fail(f"dora start did not end by itself:\n{log.read_text()[-3000:]}")
        text = log.read_text()
        assert re.search(r"\[recorder\] done: 2 new episode\(s\).*dropped 0", text), text[-3000:]

    merged = tmp_path / "merged"
    parts = [str(tmp_path / "a"), str(tmp_path / "b")]
    proc = run_script("merge_datasets.py", "--sources", *parts, "--output", str(merged))
    assert proc.returncode == 0, proc.stderr[-2000:]
    ds = load(merged)
    assert list(ds.meta.episodes["episode_index"]) == [0, 1, 2, 3]
    side = EpisodeSidecar(merged).records
    assert [side[i]["sim_episode_index"] for i in range(4)] == [0, 1, 0, 1]  # each part's own attempts
    # Different SIM_SEEDs: the parts hold different placements, so their first episodes differ.
    actions = np.asarray(ds.hf_dataset["action"])
    first = [int(x) for x in ds.meta.episodes["dataset_from_index"]]
    assert not np.allclose(actions[first[0] + 10], actions[first[2] + 10])
