"""A recorder frozen for longer than dora's zenoh lease (SIGSTOP 12 s) still gets every quality report.

Before the report and annotation inputs used `queue_policy: backpressure`, reports published while the
recorder was frozen were lost with its zenoh transport, and their episodes were saved without one after
a 60 s wait each.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import REPO, dora_running, node_pids

from sim_teleop.dataset.sidecar import EpisodeSidecar

pytestmark = pytest.mark.dataflow
EPISODES = 4


def test_a_frozen_recorder_keeps_every_quality_report(tmp_path: Path, dora_env: dict[str, str]) -> None:
    root = tmp_path / "dataset"
    env = {**dora_env, "AUTOPILOT_EPISODES": str(EPISODES), "RECORD_ROOT": str(root)}
    env.pop("AUTOPILOT_TICK_MS", None)
    log = tmp_path / "dora.log"
    with dora_running(REPO / "dataflow-autopilot.yaml", env, log, tmp_path) as proc:
        deadline = time.monotonic() + 180
        while "saved attempt 0 " not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        pid = node_pids(root, "recorder")[0]
        os.kill(pid, signal.SIGSTOP)
        time.sleep(12)
        os.kill(pid, signal.SIGCONT)
        rc = proc.wait(timeout=180)
    text = log.read_text()
    assert rc == 0, text[-3000:]
    assert "WITHOUT" not in text, text[-3000:]
    sidecar = EpisodeSidecar(root)
    reports = [sidecar.get(i) for i in range(EPISODES)]
    assert all(r is not None and r["quality"] is not None for r in reports), reports
