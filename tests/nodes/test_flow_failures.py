"""A node's death or a stalled recorder ends the whole autopilot flow, non-zero, with one line; what was
saved loads. Before, a killed scorer left sim and expert simulating unrecorded episodes for minutes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import REPO, dora_running, node_pids

from sim_teleop.dataset.reader import total_episodes

pytestmark = pytest.mark.dataflow


def _pid_of(node: str, root: Path) -> int:
    pids = node_pids(root, node)
    if not pids:
        pytest.fail(f"no {node} process for {root}")
    return pids[0]


def _run_until_saved(
    env: dict[str, str], root: Path, log: Path, act: signal.Signals, node: str, until: str
) -> tuple[int, float]:
    """Start the flow, wait for its first saved episode, send `act` to `node`, wait for the line `until`
    (then a stopped node is continued, so it can finish); (exit code, seconds from `act` to `until`)."""
    with dora_running(REPO / "dataflow-autopilot.yaml", env, log, log.parent) as proc:
        deadline = time.monotonic() + 240
        while "saved attempt 0 " not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        pid = _pid_of(node, root)
        os.kill(pid, act)
        t0 = time.monotonic()
        try:
            while until not in log.read_text() and time.monotonic() - t0 < 90:
                time.sleep(0.2)
            took = time.monotonic() - t0
        finally:
            if act is signal.SIGSTOP:
                os.kill(pid, signal.SIGCONT)
        return proc.wait(timeout=120), took


def test_a_killed_scorer_ends_the_flow_with_one_line(tmp_path: Path, dora_env: dict[str, str]) -> None:
    root = tmp_path / "dataset"
    env = {**dora_env, "AUTOPILOT_EPISODES": "50", "RECORD_ROOT": str(root)}
    log = tmp_path / "dora.log"
    rc, took = _run_until_saved(env, root, log, signal.SIGKILL, "scorer", "the scorer has gone: stopping")
    text = log.read_text()
    assert rc != 0, text[-3000:]
    assert "the scorer has gone: stopping" in text, text[-3000:]
    assert took < 15, (took, text[-3000:])
    saved = total_episodes(root)
    assert saved is not None and 1 <= saved < 50, saved


def test_a_stalled_recorder_ends_the_run_non_zero(tmp_path: Path, dora_env: dict[str, str]) -> None:
    """SIGSTOP the recorder for longer than SIM_STALL_S: the sim stops the run, non-zero, with one line
    naming the stall; the episodes saved before it load."""
    root = tmp_path / "dataset"
    env = {**dora_env, "AUTOPILOT_EPISODES": "50", "RECORD_ROOT": str(root), "SIM_STALL_S": "5"}
    log = tmp_path / "dora.log"
    rc, took = _run_until_saved(
        env, root, log, signal.SIGSTOP, "recorder", "the recorder has received no frame"
    )
    text = log.read_text()
    assert rc != 0, text[-3000:]
    assert "the recorder has received no frame for" in text, text[-3000:]
    assert 3.5 <= took < 20, (took, text[-3000:])  # the last report came up to 1 s before the SIGSTOP
    saved = total_episodes(root)
    assert saved is not None and 1 <= saved < 50, saved
