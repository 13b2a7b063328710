"""Keyboard teleoperation logic: held keys -> an integrated absolute target; control keys -> commands.

Pure and dora-free: the keyboard node feeds it key names from pynput and asks for one action per frame.
Bindings: arrows move x/y, Left/Right Shift move z down/up, Cmd/Super held closes the gripper;
on release Esc = stop, Ctrl = rerecord, Space = next.
"""

from __future__ import annotations

import threading

import numpy as np

from sim_teleop.messages import ACTION_DIM, Control
from sim_teleop.sim_env import TARGET_LIMIT

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


def key_name(key: object) -> str:
    """pynput key -> a stable lower-case name (`Key.shift_r` -> `shift_r`, `KeyCode(char='a')` -> `a`)."""
    name = getattr(key, "name", None)
    if isinstance(name, str):
        return name.lower()
    char = getattr(key, "char", None)
    return char.lower() if isinstance(char, str) else str(key)


class KeyboardTeleop:
    """Thread-safe: pynput calls `press`/`release` from its thread, the node calls `action`/`controls`."""

    def __init__(self, speed: float = SPEED) -> None:
        self.speed = speed
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._pending: list[Control] = []
        self.target: np.ndarray = np.zeros(3, dtype=np.float32)

    def press(self, name: str) -> None:
        with self._lock:
            self._held.add(name)

    def release(self, name: str) -> None:
        with self._lock:
            self._held.discard(name)
            if name in CONTROL_KEYS:
                self._pending.append(CONTROL_KEYS[name])

    def controls(self) -> list[Control]:
        """Commands from control keys released since the last call, in order."""
        with self._lock:
            out, self._pending = self._pending, []
        return out

    def reset(self) -> None:
        """A new episode starts from its own start pose: the integrated target goes back to zero."""
        self.target[:] = 0.0

    def action(self, dt: float) -> np.ndarray:
        """Integrate held motion keys over `dt` seconds and return `[x, y, z, gripper]`."""
        with self._lock:
            held = set(self._held)
        velocity = np.zeros(3, dtype=np.float32)
        for name in held:
            if name in MOTION_KEYS:
                axis, sign = MOTION_KEYS[name]
                velocity[axis] += sign
        self.target = np.clip(self.target + velocity * self.speed * dt, -TARGET_LIMIT, TARGET_LIMIT).astype(
            np.float32
        )
        out = np.zeros(ACTION_DIM, dtype=np.float32)
        out[:3] = self.target
        out[3] = 1.0 if held & GRIPPER_KEYS else 0.0
        return out
