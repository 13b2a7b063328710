"""End to end: the real `dora run dataflow-demo.yaml` driven by xdotool key presses under Xvfb."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, read_probe, with_probe

pytestmark = pytest.mark.dataflow
SHIFT_R_KEYCODE = "62"  # Xvfb's default evdev keymap


def _wait_for_frames(probe: Path, count: int, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dora run exited early with {proc.returncode}")
        if probe.exists() and len(probe.read_text().splitlines()) >= count:
            return
        time.sleep(0.2)
    pytest.fail("no frames from the sim")


def _hold(display: str, key: str, seconds: float) -> None:
    env = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
    subprocess.run(["xdotool", "keydown", key], env=env, check=True)
    time.sleep(seconds)
    subprocess.run(["xdotool", "keyup", key], env=env, check=True)
    time.sleep(0.4)


def test_keyboard_drives_robot_and_esc_stops(tmp_path: Path, xvfb: str, dora_env: dict[str, str]) -> None:
    probe = tmp_path / "frames.jsonl"
    flow = with_probe(REPO / "dataflow-demo.yaml", tmp_path, probe)
    env = {**dora_env, "DISPLAY": xvfb, "SIM_TIME_LIMIT_S": "120"}
    log = (tmp_path / "dora.log").open("w")
    proc = subprocess.Popen(
        ["dora", "run", str(flow)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_for_frames(probe, 10, proc)
        time.sleep(1.0)  # the keyboard listener starts right after the node registered
        # Right Shift by keycode: xdotool's `Shift_R` keysym also presses the left Shift modifier.
        for key in ("Right", "Up", SHIFT_R_KEYCODE, "super"):
            _hold(xvfb, key, 1.0)
        time.sleep(0.6)
        subprocess.run(["xdotool", "key", "Escape"], env={"DISPLAY": xvfb}, check=True)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, (tmp_path / "dora.log").read_text()[-3000:]

    rows = [r for r in read_probe(probe) if r["phase"] == "running" and r["episode_index"] == 0]
    actions = np.array([r["action"] for r in rows])
    tcp = np.array([r["tcp"] for r in rows])
    start = tcp[0]

    # Each hold moves one axis by ~SPEED * 1 s = 0.1 m, and only that axis.
    first = {axis: int(np.argmax(np.abs(actions[:, axis]) > 1e-6)) for axis in range(3)}
    assert first[0] < first[1] < first[2], first
    assert np.allclose(actions[first[1], [1, 2]], [0.01, 0.0], atol=0.011)
    final = actions[-1, :3]
    assert np.all(final > 0.05) and np.all(final < 0.2), final
    assert abs(actions[first[1], 0] - final[0]) < 1e-6, "x changed while only Up was held"

    # The TCP followed: it moved +x, +y, +z by about the commanded target.
    moved = tcp[-1] - start
    assert np.all(moved > 0.04), moved
    assert np.allclose(moved, final, atol=0.03), (moved, final)

    # Super held closed the gripper (state 1.0, the action's unit); releasing it opened it again.
    gripper = np.array([r["gripper"] for r in rows])
    closed = np.flatnonzero(actions[:, 3] > 0.5)
    assert closed.size >= 5
    assert gripper[closed[-1]] > 0.9 and gripper[-1] < 0.2


def test_demo_without_a_display_ends_by_itself(tmp_path: Path, dora_env: dict[str, str]) -> None:
    """The keyboard cannot start: it says why in one line, and the sim stops instead of ticking forever."""
    flow = with_probe(REPO / "dataflow-demo.yaml", tmp_path, tmp_path / "frames.jsonl")
    t0 = time.monotonic()
    proc = subprocess.run(
        ["dora", "run", str(flow)], cwd=tmp_path, env=dora_env, capture_output=True, text=True, timeout=60
    )
    took = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert took < 30, f"took {took:.0f} s"
    assert "[keyboard] error: no X display" in out
    assert "[sim] the controller has gone: stopping" in out
    assert "Traceback" not in out, out[-3000:]
