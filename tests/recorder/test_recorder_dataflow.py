"""The recorder node in real `dora run` dataflows (headless, scripted controller instead of the keyboard).

These flows feed the recorder straight from `sim/frame` (no scorer, so no quality input: a mode the
recorder supports) to keep each test short on a 2-core machine; the keyboard end-to-end test runs the
committed dataflow-record.yaml with the scorer.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import read_probe
from recorder_flows import (
    load_dataset,
    record_flow,
    run_delete,
    run_flow,
    saved_attempt_actions,
    video_frame_counts,
)

from sim_teleop.dataset.reader import dataset_files
from sim_teleop.recorder.config import RecordConfig
from sim_teleop.recorder.session import Recorder

pytestmark = pytest.mark.dataflow
REPO_ID = "test/flow"
REPO = Path(__file__).resolve().parents[2]


def flow_env(dora_env: dict[str, str], root: Path, num: int, resume: bool = False) -> dict[str, str]:
    env = {**dora_env, "RECORD_REPO_ID": REPO_ID, "RECORD_ROOT": str(root), "RECORD_NUM_EPISODES": str(num)}
    if resume:
        env["RESUME_RECORDING"] = "1"
    return env


def saved_attempts(log_text: str) -> list[int]:
    return [int(m) for m in re.findall(r"\[recorder\] saved attempt (\d+) as episode", log_text)]


def test_delete_then_resume_records_contiguously(tmp_path: Path, dora_env: dict[str, str]) -> None:
    root = tmp_path / "ds"
    probe = tmp_path / "frames.jsonl"
    flow = record_flow(tmp_path, probe, script="5,r4,6,7", with_scorer=False)
    log = tmp_path / "dora.log"
    assert run_flow(flow, flow_env(dora_env, root, 3), log) == 0, log.read_text()[-3000:]
    attempts = saved_attempts(log.read_text())
    assert attempts == [0, 2, 3]
    ds = load_dataset(REPO_ID, root)
    sent = saved_attempt_actions(read_probe(probe), attempts)
    assert list(ds.meta.episodes["length"]) == [len(a) for a in sent]
    np.testing.assert_allclose(
        np.stack([ds[i]["action"].numpy() for i in range(len(ds))]),
        np.concatenate([np.array(a, np.float32) for a in sent]),
    )
    counts = video_frame_counts(root, ds)
    assert set(counts.values()) == {ds.meta.total_frames}

    proc = run_delete(root, REPO_ID, "[1]")
    assert proc.returncode == 0, proc.stderr[-2000:]

    probe2 = tmp_path / "frames2.jsonl"
    flow2 = record_flow(tmp_path, probe2, script="8,9", with_scorer=False, name="flow2.yaml")
    log2 = tmp_path / "dora2.log"
    assert run_flow(flow2, flow_env(dora_env, root, 3, resume=True), log2) == 0, log2.read_text()[-3000:]
    # Only the one missing episode is recorded, and its attempt (so its placement) continues after every
    # attempt the dataset remembers (saved attempts 0 and 3 remain after the delete): attempt 4.
    assert saved_attempts(log2.read_text()) == [4], "only the one missing episode is recorded"
    cube = {r["episode_index"]: r["cube_xy"] for r in read_probe(probe) if r["phase"] == "running"}
    resumed_cube = next(r["cube_xy"] for r in read_probe(probe2) if r["episode_index"] == 4)
    assert resumed_cube not in (cube[0], cube[3]), (resumed_cube, cube)  # not a placement the dataset holds
    ds = load_dataset(REPO_ID, root)
    new = saved_attempt_actions(read_probe(probe2), [4])[0]
    assert list(ds.meta.episodes["episode_index"]) == [0, 1, 2]
    assert list(ds.meta.episodes["length"]) == [len(sent[0]), len(sent[2]), len(new)]
    assert set(video_frame_counts(root, ds).values()) == {ds.meta.total_frames}


def _recorder_pid(log_text: str) -> int:
    m = re.search(r"recorder: spawner spawned node with pid (\d+)", log_text)
    assert m, "recorder pid not in the dora log"
    return int(m.group(1))


def test_sigkill_mid_episode_keeps_every_earlier_episode(tmp_path: Path, dora_env: dict[str, str]) -> None:
    root = tmp_path / "ds"
    probe = tmp_path / "frames.jsonl"
    flow = record_flow(tmp_path, probe, script="5,6,hold", with_scorer=False)
    log = tmp_path / "dora.log"
    env = flow_env(dora_env, root, 5)
    with log.open("w") as fh:
        proc = subprocess.Popen(
            ["dora", "run", str(flow)], cwd=tmp_path, env=env, stdout=fh, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = log.read_text()
            rows = read_probe(probe) if probe.exists() else []
            in_third = [r for r in rows if r["episode_index"] == 2 and r["phase"] == "running"]
            if len(saved_attempts(text)) == 2 and len(in_third) >= 4:
                break
            assert proc.poll() is None, text[-3000:]
            time.sleep(0.2)
        else:
            pytest.fail("the recorder did not save two episodes in time:\n" + log.read_text()[-3000:])
        os.kill(_recorder_pid(log.read_text()), signal.SIGKILL)
        killed_at = time.monotonic()
        # The sim sees the recorder's control input close and stops: the dataflow ends by itself
        # (non-zero: a node died) instead of simulating on with nobody recording.
        code = proc.wait(timeout=30)
        took = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert code != 0 and "the recorder has gone: stopping" in text, text[-3000:]
    assert took < 20, f"the dataflow took {took:.0f} s to stop after the recorder died"
    ds = load_dataset(REPO_ID, root)  # loads as the kill left it, no repair step
    sent = saved_attempt_actions(read_probe(probe), [0, 1])
    assert list(ds.meta.episodes["length"]) == [len(a) for a in sent]
    np.testing.assert_allclose(
        np.stack([ds[i]["action"].numpy() for i in range(len(ds))]),
        np.concatenate([np.array(a, np.float32) for a in sent]),
    )
    assert set(video_frame_counts(root, ds).values()) == {ds.meta.total_frames}


def test_incompatible_resume_refuses_byte_identical(tmp_path: Path, dora_env: dict[str, str]) -> None:
    root = tmp_path / "ds"
    from recorder_fakes import ScriptedSim, episode_frames

    cfg = RecordConfig.from_dict({"repo_id": REPO_ID, "root": str(root), "rerun": "off", "fps": 15})
    rec = Recorder(cfg, expects_quality=False, log=print)  # a dataset recorded at another rate
    sim = ScriptedSim()
    for f in episode_frames(sim, 4):
        rec.on_frame(f)
    rec.close()
    before = dataset_files(root)
    probe = tmp_path / "frames.jsonl"
    flow = record_flow(tmp_path, probe, script="hold", with_scorer=False)
    log = tmp_path / "dora.log"
    rc = run_flow(flow, flow_env(dora_env, root, 3, resume=True), log, timeout=150)
    text = log.read_text()
    assert rc != 0, "a refused recording must not look like success"
    assert "cannot resume" in text and "fps: dataset has 15" in text, text[-3000:]
    assert dataset_files(root) == before
    assert json.loads((root / "meta" / "info.json").read_text())["total_episodes"] == 1
