"""Keyboard teleoperation logic: held keys -> an integrated absolute target; control keys -> commands.

Pure and dora-free: the keyboard node feeds it key names from pynput and asks for one action per frame.
Bindings: arrows move x/y, Left/Right Shift move z down/up, Cmd/Super held closes the gripper;
on release Esc = stop, Ctrl = rerecord, Space = next.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim_teleop.config import Config, setting
from sim_teleop.messages import ACTION_DIM, Control, EndReason, Phase
from sim_teleop.sim.env import TARGET_LIMIT

SPEED = 0.1
"""Target speed (m/s) while a motion key is held."""

MOTION_KEYS: dict[str, tuple[int, float]] = {
    "right": (0, +1.0),
    "left": (0, -1.0),
    "up": (1, +1.0),
    "down": (1, -1.0),
    "shift_r": (2, +1.0),
    "shift": (2, -1.0),  # pynput reports the left Shift as plain `shift`
    "shift_l": (2, -1.0),
}
GRIPPER_KEYS = frozenset({"cmd", "cmd_l", "cmd_r"})
CONTROL_KEYS: dict[str, Control] = {
    "esc": Control.STOP,
    "ctrl": Control.RERECORD,
    "ctrl_l": Control.RERECORD,
    "ctrl_r": Control.RERECORD,
    "space": Control.NEXT,
}


@dataclass(frozen=True)
class KeyboardConfig(Config):
    """optional: without a display the keyboard steps aside instead of failing (the eval dataflow,
    where the policy drives and the keyboard only adds manual control)."""

    optional: bool = setting(False, env="KEYBOARD_OPTIONAL")


def key_name(key: object) -> str:
    """pynput key -> a stable lower-case name (`Key.shift_r` -> `shift_r`, `KeyCode(char='a')` -> `a`)."""
    name = getattr(key, "name", None)
    if isinstance(name, str):
        return name.lower()
    char = getattr(key, "char", None)
    return char.lower() if isinstance(char, str) else str(key)


class KeyboardTeleop:
    """Thread-safe: pynput calls `press`/`release` from its thread, the node calls `action`/`controls`.

    Motion is integrated over the time each key was held (press to release, from the clock), not over
    the frames the node happened to receive: a node stalled by a loaded machine still moves the target
    by the right amount once it runs again, and a tap shorter than a frame still counts.
    """

    def __init__(self, speed: float = SPEED, clock: Callable[[], float] = time.monotonic) -> None:
        self.speed = speed
        self.clock = clock
        self._lock = threading.Lock()
        self._held: dict[str, float] = {}  # key -> time up to which its motion has been counted
        self._pending: list[Control] = []
        self._moved = np.zeros(3, dtype=np.float64)  # signed key-seconds per axis not yet applied
        self.target: np.ndarray = np.zeros(3, dtype=np.float32)

    def press(self, name: str) -> None:
        with self._lock:
            self._held.setdefault(name, self.clock())  # X auto-repeat presses again: keep the first

    def release(self, name: str) -> None:
        with self._lock:
            since = self._held.pop(name, None)
            if since is not None and name in MOTION_KEYS:
                axis, sign = MOTION_KEYS[name]
                self._moved[axis] += sign * max(0.0, self.clock() - since)
            if name in CONTROL_KEYS:
                self._pending.append(CONTROL_KEYS[name])

    def controls(self) -> list[Control]:
        """Commands from control keys released since the last call, in order."""
        with self._lock:
            out, self._pending = self._pending, []
        return out

    def reset(self) -> None:
        """A new episode starts from its own start pose: the target goes back to zero and motion held
        outside an attempt is dropped."""
        with self._lock:
            now = self.clock()
            self._held = dict.fromkeys(self._held, now)
            self._moved[:] = 0.0
            self.target[:] = 0.0

    def action(self) -> np.ndarray:
        """Move the target by all key-holding time up to now and return `[x, y, z, gripper]`."""
        with self._lock:
            now = self.clock()
            moved, self._moved = self._moved, np.zeros(3, dtype=np.float64)
            for name, since in self._held.items():
                if name in MOTION_KEYS:
                    axis, sign = MOTION_KEYS[name]
                    moved[axis] += sign * max(0.0, now - since)
                self._held[name] = now
            gripper = any(name in GRIPPER_KEYS for name in self._held)
        self.target = np.clip(self.target + moved * self.speed, -TARGET_LIMIT, TARGET_LIMIT).astype(
            np.float32
        )
        out = np.zeros(ACTION_DIM, dtype=np.float32)
        out[:3] = self.target
        out[3] = 1.0 if gripper else 0.0
        return out


def phase_prompt(phase: Phase, attempt: int, end_reason: EndReason) -> str:
    """What the operator can do now, printed when the sim's phase changes."""
    if phase is Phase.RUNNING:
        return f"attempt {attempt} recording - Space: finish it, Ctrl: discard it, Esc: stop (discards it)"
    if phase is Phase.DONE:
        if end_reason.saved:
            return (
                f"attempt {attempt} ended ({end_reason.value}) - Space: keep it and reset, "
                "Ctrl: discard it, Esc: keep it and stop"
            )
        return f"attempt {attempt} ended ({end_reason.value}, not kept) - Space: reset, Esc: stop"
    return f"scene ready - Space: start attempt {attempt + 1}, Esc: stop"
