"""Key events -> a target integrated over the time keys are held; control commands; phase prompts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from conftest import load_node
from dora.testing import MockNode
from recorder_fakes import ScriptedSim

from sim_teleop.control.teleop import SPEED, KeyboardTeleop, key_name, phase_prompt
from sim_teleop.messages import Control, EndReason, Phase, decode_action, encode_frame
from sim_teleop.sim.env import TARGET_LIMIT


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_held_keys_integrate_per_axis_by_time_held() -> None:
    clock = Clock()
    t = KeyboardTeleop(clock=clock)
    t.press("right")
    for _ in range(10):
        clock.t += 0.1
        a = t.action()
    assert a[0] == pytest.approx(SPEED) and a[1] == 0 and a[2] == 0
    t.release("right")
    t.press("up")
    t.press("shift_r")
    clock.t += 0.5
    a = t.action()
    np.testing.assert_allclose(a[:3], [SPEED, 0.5 * SPEED, 0.5 * SPEED], atol=1e-6)
    t.release("up")
    t.release("shift_r")
    t.press("shift")  # left shift: down
    t.press("left")
    t.press("down")
    clock.t += 1.0
    a = t.action()
    np.testing.assert_allclose(a[:3], [0.0, -0.5 * SPEED, -0.5 * SPEED], atol=1e-6)


def test_a_node_starved_of_frames_still_moves_by_the_time_the_key_was_held() -> None:
    """No frame (so no `action()` call) for 1.2 s while Right is held for 1 s: the next action has
    moved 1 s worth, not one frame's worth; a tap between two frames counts too."""
    clock = Clock()
    t = KeyboardTeleop(clock=clock)
    assert t.action()[0] == 0.0
    t.press("right")
    clock.t = 1.0
    t.release("right")
    clock.t = 1.2
    assert t.action()[0] == pytest.approx(1.0 * SPEED)
    clock.t = 1.25
    t.press("left")  # a 30 ms tap, shorter than a frame
    clock.t = 1.28
    t.release("left")
    clock.t = 1.3
    assert t.action()[0] == pytest.approx(0.97 * SPEED)
    t.press("right")
    t.press("right")  # X auto-repeat presses again: the hold still counts from the first press
    clock.t = 1.8
    assert t.action()[0] == pytest.approx(1.47 * SPEED)


def test_target_is_clamped_and_reset_drops_motion_outside_an_attempt() -> None:
    clock = Clock()
    t = KeyboardTeleop(clock=clock)
    t.press("right")
    clock.t = 100.0
    assert t.action()[0] == pytest.approx(TARGET_LIMIT)
    clock.t = 101.0
    t.reset()  # held through a reset: only the time after it counts
    clock.t = 101.5
    t.release("right")
    np.testing.assert_allclose(t.action()[:3], [0.5 * SPEED, 0, 0], atol=1e-6)


def test_gripper_follows_super() -> None:
    t = KeyboardTeleop()
    assert t.action()[3] == 0.0
    t.press("cmd")
    assert t.action()[3] == 1.0
    t.release("cmd")
    assert t.action()[3] == 0.0


def test_controls_on_release_in_order() -> None:
    t = KeyboardTeleop()
    for name in ("space", "ctrl_l", "esc"):
        t.press(name)
    assert t.controls() == []  # nothing on press
    for name in ("space", "ctrl_l", "esc", "a"):
        t.release(name)
    assert t.controls() == [Control.NEXT, Control.RERECORD, Control.STOP]
    assert t.controls() == []


def test_key_name() -> None:
    class Special:  # pynput's Key members carry a name
        name = "Shift_R"

    class Char:  # KeyCode carries a char
        char = "A"

    assert key_name(Special()) == "shift_r"
    assert key_name(Char()) == "a"


def test_prompts_name_the_keys_of_each_phase() -> None:
    assert "Space: start attempt 3" in phase_prompt(Phase.RESETTING, 2, EndReason.NONE)
    assert "Space: finish it" in phase_prompt(Phase.RUNNING, 3, EndReason.NONE)
    done = phase_prompt(Phase.DONE, 3, EndReason.SUCCESS)
    assert "(success)" in done and "keep it and reset" in done and "Ctrl: discard it" in done
    assert "not kept" in phase_prompt(Phase.DONE, 3, EndReason.RERECORD)


def test_keyboard_node_prompts_once_per_phase_change(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The node with a recording sim that waits for Space: one prompt per phase change, in order."""
    keyboard = load_node("keyboard")

    class Listener:
        def stop(self) -> None:
            pass

    monkeypatch.setattr(keyboard, "_start_listener", lambda teleop: Listener())
    sim = ScriptedSim(wait_for_start=True)
    frames = [sim.tick() for _ in range(3)]  # waiting: resetting of attempt -1
    sim.control(Control.NEXT)
    frames += [sim.tick() for _ in range(4)]  # attempt 0 running
    sim.control(Control.NEXT)
    frames += [sim.tick() for _ in range(2)]  # done (next)
    sim.control(Control.NEXT)
    frames += [sim.tick() for _ in range(2)]  # resetting
    assert frames[0].episode_index == -1 and frames[0].phase is Phase.RESETTING
    node = MockNode([("frame", encode_frame(f)) for f in frames])
    keyboard.main(node)
    said = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("[keyboard]")]
    prompts: list[Any] = [ln.split("] ", 1)[1] for ln in said[1:]]  # after the "ready" line
    assert prompts == [
        phase_prompt(Phase.RESETTING, -1, EndReason.NONE),
        phase_prompt(Phase.RUNNING, 0, EndReason.NONE),
        phase_prompt(Phase.DONE, 0, EndReason.NEXT),
        phase_prompt(Phase.RESETTING, 0, EndReason.NEXT),
    ]
    assert len(node.outputs["action"]) == len(frames) + 1  # one per frame, plus the warm-up
    assert all(decode_action(a)[3] == 0.0 for a in node.outputs["action"])
    assert isinstance(node.outputs["action"][0], pa.Array)
