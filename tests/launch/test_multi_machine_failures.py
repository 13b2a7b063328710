"""A daemon that dies or stalls mid-run, on two loopback daemons (sim on A, scorer and recorder on B): its
nodes leave with it (no orphan holds the root's lock), the run ends non-zero, what was lost is named, and
the saved episodes load."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, Cluster, node_pids
from recorder_flows import run_script

from sim_teleop.dataset.lock import RootLock
from sim_teleop.dataset.reader import total_episodes

pytestmark = [pytest.mark.dataflow, pytest.mark.slow, pytest.mark.cluster]


def _start_split(
    tmp_path: Path, dora_env: dict[str, str], cluster: Cluster, settings: dict[str, str]
) -> tuple[subprocess.Popen, Path]:
    """The autopilot flow split over the two daemons, started with `dora start --attach`; (run, its log).
    `settings` go both into the generated YAML (`--set`) and into the caller's environment."""
    flow = tmp_path / "split.yaml"
    deploy = [
        str(REPO / "dataflow-autopilot.yaml"),
        "--machine",
        "A",
        "--on",
        "scorer=B",
        "--on",
        "recorder=B",
    ]
    sets = [arg for k, v in settings.items() for arg in ("--set", f"{k}={v}")]
    proc = run_script("deploy_flow.py", *deploy, "--output", str(flow), *sets)
    assert proc.returncode == 0, proc.stderr
    log = tmp_path / "start.log"
    command = [
        "dora",
        "start",
        str(flow),
        "--name",
        "split",
        "--coordinator-port",
        str(cluster.port),
        "--attach",
    ]
    with log.open("w") as out:
        run = subprocess.Popen(
            command, cwd=tmp_path, env={**dora_env, **settings}, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 300
    while "saved attempt 0 " not in log.read_text():
        if run.poll() is not None or time.monotonic() > deadline:
            run.kill()
            pytest.fail(log.read_text()[-3000:])
        time.sleep(0.2)
    return run, log


def test_a_killed_recording_daemon_ends_the_run_non_zero_without_orphans(
    tmp_path: Path, dora_env: dict[str, str], cluster: Cluster
) -> None:
    root = tmp_path / "dataset"
    settings = {"RECORD_ROOT": str(root), "AUTOPILOT_EPISODES": "50", "SIM_STALL_S": "5"}
    run, log = _start_split(tmp_path, dora_env, cluster, settings)
    try:
        os.kill(cluster.daemons["B"].pid, signal.SIGKILL)
        killed_at = time.monotonic()
        rc = run.wait(timeout=120)
        took = time.monotonic() - killed_at
    finally:
        if run.poll() is None:
            run.kill()
    text = log.read_text()
    assert rc != 0, text[-3000:]
    assert took < 60, (took, text[-3000:])
    deadline = time.monotonic() + 10
    while node_pids(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert node_pids(root) == [], "orphaned nodes still run"
    with RootLock(root, "test"):  # nobody holds the root: a resume may start
        pass
    saved = total_episodes(root)
    assert saved is not None and 1 <= saved < 50, saved


@pytest.mark.parametrize("stall_s", [14, 30])
def test_a_stalled_recording_daemon_names_what_it_lost_and_ends_non_zero(
    tmp_path: Path, dora_env: dict[str, str], cluster: Cluster, stall_s: int
) -> None:
    """SIGSTOP the recording daemon: the frames the sim sent meanwhile never arrive (no backpressure
    across machines). The recorder names the loss at once and in its done line, records on, and the
    run ends non-zero; the episodes saved load. Before: 3 attempts gone with exit 0 and 'dropped 0'."""
    root = tmp_path / "dataset"
    run, log = _start_split(
        tmp_path, dora_env, cluster, {"RECORD_ROOT": str(root), "AUTOPILOT_EPISODES": "8"}
    )
    try:
        os.kill(cluster.daemons["B"].pid, signal.SIGSTOP)
        time.sleep(stall_s)
        os.kill(cluster.daemons["B"].pid, signal.SIGCONT)
        rc = run.wait(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
    text = log.read_text()
    assert rc != 0, text[-3000:]
    if stall_s < 20:  # the link comes back: the recorder names what it lost
        assert "never arrived (a stalled or cut-off link)" in text, text[-3000:]
        assert "attempts LOST in transit: [" in text, text[-3000:]
    else:  # dora dropped the daemon after 20 s: nothing reaches it again, the sim ends the run
        assert "the recorder has received no frame for" in text, text[-3000:]
    saved = total_episodes(root)
    assert saved is not None and 1 <= saved < 8, saved
