"""Key events -> integrated absolute target and control commands."""

from __future__ import annotations

import numpy as np
import pytest

from sim_teleop.messages import Control
from sim_teleop.sim_env import TARGET_LIMIT
from sim_teleop.teleop import SPEED, KeyboardTeleop, key_name


def test_held_keys_integrate_per_axis() -> None:
    t = KeyboardTeleop()
    t.press("right")
    for _ in range(10):
        a = t.action(0.1)
    assert a[0] == pytest.approx(SPEED) and a[1] == 0 and a[2] == 0
    t.release("right")
    t.press("up")
    t.press("shift_r")
    a = t.action(0.5)
    np.testing.assert_allclose(a[:3], [SPEED, 0.5 * SPEED, 0.5 * SPEED], atol=1e-6)
    t.release("up")
    t.release("shift_r")
    t.press("shift")  # left shift: down
    t.press("left")
    t.press("down")
    a = t.action(1.0)
    np.testing.assert_allclose(a[:3], [0.0, -0.5 * SPEED, -0.5 * SPEED], atol=1e-6)


def test_target_is_clamped_and_resets() -> None:
    t = KeyboardTeleop()
    t.press("right")
    a = t.action(100.0)
    assert a[0] == pytest.approx(TARGET_LIMIT)
    t.reset()
    t.release("right")
    assert np.all(t.action(0.1)[:3] == 0)


def test_gripper_follows_super() -> None:
    t = KeyboardTeleop()
    assert t.action(0.1)[3] == 0.0
    t.press("cmd")
    assert t.action(0.1)[3] == 1.0
    t.release("cmd")
    assert t.action(0.1)[3] == 0.0


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
