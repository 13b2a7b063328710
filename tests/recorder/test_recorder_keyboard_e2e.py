"""End to end: `dora run dataflow-record.yaml` (keyboard -> sim -> scorer -> recorder), Xvfb + xdotool."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, dora_running, free_port, read_probe, with_probe
from recorder_flows import load_dataset, saved_attempt_actions, video_frame_counts

from sim_teleop.dataset.sidecar import EpisodeSidecar

pytestmark = pytest.mark.dataflow
REPO_ID = "test/keyboard"


def _key(display: str, *args: str, pause: float = 0.6) -> None:
    subprocess.run(["xdotool", *args], env={"DISPLAY": display, "PATH": "/usr/bin:/bin"}, check=True)
    time.sleep(pause)


def _hold(display: str, key: str, seconds: float) -> None:
    _key(display, "keydown", key, pause=seconds)
    _key(display, "keyup", key)


def _wait_phase(probe: Path, proc: subprocess.Popen, attempt: int, phase: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dora run exited early with {proc.returncode}"
        if probe.exists() and any(
            r["episode_index"] == attempt and r["phase"] == phase for r in read_probe(probe)
        ):
            return
        time.sleep(0.1)
    pytest.fail(f"attempt {attempt} never reached {phase}")


def test_keyboard_recording_space_ctrl_esc(tmp_path: Path, xvfb: str, dora_env: dict[str, str]) -> None:
    root = tmp_path / "ds"
    probe = tmp_path / "frames.jsonl"
    flow = with_probe(REPO / "dataflow-record.yaml", tmp_path, probe)
    # The defaults a desktop user gets: MuJoCo viewer on and the rerun live view spawned (under
    # Xvfb's software GL the rerun viewer dies at start; the recording must not notice).
    defaults = {k: v for k, v in dora_env.items() if k not in ("SIM_VIEWER", "RECORD_RERUN")}
    env = {
        **defaults,
        "DISPLAY": xvfb,
        "RECORD_RERUN_PORT": str(free_port()),
        "SIM_TIME_LIMIT_S": "120",
        "RECORD_REPO_ID": REPO_ID,
        "RECORD_ROOT": str(root),
        "RECORD_NUM_EPISODES": "5",
    }
    log = tmp_path / "dora.log"
    with dora_running(flow, env, log, tmp_path) as proc:
        # Recording waits for the operator: frames of "attempt -1" resetting until the first Space.
        _wait_phase(probe, proc, -1, "resetting", timeout=120)
        # The keyboard prompts once its X listener runs and the first frame arrived; a key pressed
        # before that is lost (seen once on a loaded machine with a fixed 1 s wait).
        deadline = time.monotonic() + 120
        while "[keyboard] scene ready" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        time.sleep(0.5)
        _key(xvfb, "key", "space")
        _wait_phase(probe, proc, 0, "running")
        _hold(xvfb, "Right", 1.0)  # episode 0: drive, then Space x3 (finish, reset, start the next)
        _key(xvfb, "key", "space")
        _wait_phase(probe, proc, 0, "done")
        _key(xvfb, "key", "space")
        _wait_phase(probe, proc, 0, "resetting")
        _key(xvfb, "key", "space")
        _wait_phase(probe, proc, 1, "running")
        _hold(xvfb, "Up", 0.8)  # attempt 1: re-recorded with Ctrl
        _key(xvfb, "key", "ctrl")
        _wait_phase(probe, proc, 1, "resetting")
        _key(xvfb, "key", "space")
        _wait_phase(probe, proc, 2, "running")
        _hold(xvfb, "Left", 0.8)  # attempt 2: drive, lower, close the gripper, finish with Space
        _hold(xvfb, "Shift_L", 0.5)
        _hold(xvfb, "super", 0.5)
        _key(xvfb, "key", "space")
        _wait_phase(probe, proc, 2, "done")
        _key(xvfb, "key", "space")
        _wait_phase(probe, proc, 2, "resetting")
        _key(xvfb, "key", "space")
        _wait_phase(probe, proc, 3, "running")
        time.sleep(0.8)  # attempt 3 is running when Esc comes: partial, must not be saved
        _key(xvfb, "key", "Escape")
        rc = proc.wait(timeout=120)
    text = log.read_text()
    assert rc == 0, text[-4000:]
    assert "Traceback" not in text and "panicked" not in text, text[-4000:]
    assert re.search(r"\[recorder\] live view", text), text[-3000:]  # it was tried, and said how it went
    prompts = re.findall(r"\[keyboard\] (scene ready|attempt \d+ recording|attempt \d+ ended \(\w+)", text)
    assert prompts[:4] == ["scene ready", "attempt 0 recording", "attempt 0 ended (next", "scene ready"], (
        prompts
    )
    assert re.findall(r"\[recorder\] saved attempt (\d+)", text) == ["0", "2"], text[-3000:]

    rows = read_probe(probe)
    sent = saved_attempt_actions(rows, [0, 2])
    ds = load_dataset(REPO_ID, root)
    assert ds.meta.total_episodes == 2
    assert list(ds.meta.episodes["length"]) == [len(a) for a in sent]
    assert set(video_frame_counts(root, ds).values()) == {ds.meta.total_frames}
    recorded = np.stack([ds[i]["action"].numpy() for i in range(len(ds))])
    np.testing.assert_allclose(recorded, np.concatenate([np.array(a, np.float32) for a in sent]))
    ep0 = recorded[: len(sent[0])]
    assert ep0[:, 0].max() > 0.05, "holding Right moved the x target"
    ep2 = recorded[len(sent[0]) :]
    assert ep2[:, 0].min() < -0.05 and ep2[:, 3].max() > 0.5, "Left and Super reached the recorded actions"
    side = EpisodeSidecar(root)
    assert [(side.get(i) or {})["sim_episode_index"] for i in (0, 1)] == [0, 2]
    assert all((side.get(i) or {})["quality"] is not None for i in (0, 1)), (
        "each saved episode carries its report"
    )
