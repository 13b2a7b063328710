"""Keyboard teleoperation logic: held keys -> an integrated absolute target; control keys -> commands.

Pure and dora-free: every keyboard backend (`control.keys`: X11, a terminal, evdev) feeds it key names
and the node asks for one action per frame. Bindings: arrows move x/y, Left/Right Shift move z
down/up, Cmd/Super held closes the gripper; on release Esc = stop, Ctrl = rerecord, Space = next.
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

CATCH_UP = 2.0
"""Motion learnt late (a terminal's hold is known only at its first auto-repeat, ~0.5 s after the
press) is paid out at up to this many times the key speed, never as one jump: a one-frame jump is a
command spike. Motion that accrued between two frames (a node starved of frames) is never held back."""

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
    """optional: without a keyboard the node steps aside instead of failing (the eval dataflow,
    where the policy drives and the keyboard only adds manual control). backend: where keys come
    from (`control.keys.choose`: auto, x11, terminal, evdev)."""

    optional: bool = setting(False, env="KEYBOARD_OPTIONAL")
    # the eval: send an action only while a person drives, to the sim's takeover input (control.takeover)
    takeover: bool = setting(False, env="KEYBOARD_TAKEOVER")
    # the eval: "operator" = the simulated corrector drives this node's outputs instead of the keys
    corrector: str = setting("off", env="EVAL_CORRECTOR", choices=("off", "operator"))
    backend: str = setting("auto", env="KEYBOARD_BACKEND", choices=("auto", "x11", "terminal", "evdev"))


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
        self._until: dict[str, float] = {}  # key -> end of a `hold` whose release is inferred
        self._last: float | None = None  # time of the last `action`
        self._pending: list[Control] = []
        self._moved = np.zeros(3, dtype=np.float64)  # signed key-seconds per axis not yet applied
        # drive keys held across an episode's end -> end of their inferred hold (inf: until the key-up)
        self._ignored: dict[str, float] = {}
        self._latched = False  # gripper kept closed as the policy left it, until a gripper key is pressed
        self.target: np.ndarray = np.zeros(3, dtype=np.float32)

    def press(self, name: str) -> None:
        with self._lock:
            if name in self._ignored:
                return
            if name in GRIPPER_KEYS:
                self._latched = False
            self._held.setdefault(name, self.clock())  # X auto-repeat presses again: keep the first

    def hold(self, name: str, start: float, until: float) -> None:
        """The key is known to be down from `start` to `until`: a backend that sees no key-up (a
        terminal's auto-repeat) says so, and motion is counted to `until`, never past it. A hold that
        continues one still running extends it; otherwise motion counts from `start` (which may be
        in the past: paid out at up to CATCH_UP x speed)."""
        with self._lock:
            ignored_until = self._ignored.get(name)
            if ignored_until is not None and start <= ignored_until:
                self._ignored[name] = max(ignored_until, until)  # the same hold goes on
                return
            self._ignored.pop(name, None)  # a new hold: the key was let go in between
            if name in GRIPPER_KEYS:
                self._latched = False
            if name in self._held and name not in self._until:
                return  # pressed by a backend that reports the key-up
            end = self._until.get(name)
            if end is not None and start <= end:
                self._until[name] = max(end, until)
                return
            if end is not None:  # the previous hold ended before this one began: count it out first
                self._count(name, end)
            self._held[name], self._until[name] = start, until

    def release(self, name: str) -> None:
        with self._lock:
            if self._ignored.pop(name, None) is not None:
                return
            self._until.pop(name, None)
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

    def _count_held(self, now: float) -> None:
        """Add each held key's time since it was last counted; a `hold` that has ended is let go."""
        for name in list(self._held):
            self._count(name, now)
            if self._until.get(name, np.inf) <= now:
                del self._held[name], self._until[name]

    def _count(self, name: str, now: float) -> None:
        since = self._held[name]
        upto = min(now, self._until.get(name, now))
        if name in MOTION_KEYS:
            axis, sign = MOTION_KEYS[name]
            self._moved[axis] += sign * max(0.0, upto - since)
        self._held[name] = max(since, upto)

    def reset(self) -> None:
        """A new episode starts from its own start pose: the target goes back to zero and motion held
        outside an attempt is dropped."""
        with self._lock:
            now = self.clock()
            self._held = {name: max(since, now) for name, since in self._held.items()}
            self._moved[:] = 0.0
            self._latched = False
            self.target[:] = 0.0

    def ignore_held(self) -> list[str]:
        """Motion and gripper keys held now do nothing until released (held across an episode's end,
        they must not drive the next attempt); returns their names."""
        with self._lock:
            names = sorted(n for n in self._held if n in MOTION_KEYS or n in GRIPPER_KEYS)
            for name in names:
                del self._held[name]
                self._ignored[name] = self._until.pop(name, np.inf)
            return names

    def engaged(self) -> bool:
        """A motion or gripper key is held, or motion is still to be paid out: a person is driving."""
        with self._lock:
            held = any(n in MOTION_KEYS or n in GRIPPER_KEYS for n in self._held)
            return held or bool(np.any(self._moved != 0.0))

    def rebase(self, action: np.ndarray) -> None:
        """Take over from another controller without a jump: the target becomes its last commanded one
        (`[x, y, z, gripper]`), motion counts from now, and a closed gripper stays closed until a gripper
        key is pressed (then it follows the key again)."""
        with self._lock:
            now = self.clock()
            self._held = {name: max(since, now) for name, since in self._held.items()}
            self._moved[:] = 0.0
            self._last = now
            self.target = np.asarray(action[:3], np.float32).copy()
            gripper_held = any(n in GRIPPER_KEYS for n in self._held)
            self._latched = float(action[3]) > 0.5 and not gripper_held

    def action(self) -> np.ndarray:
        """Move the target by all key-holding time up to now and return `[x, y, z, gripper]`."""
        with self._lock:
            now = self.clock()
            self._count_held(now)
            limit = np.inf if self._last is None else CATCH_UP * max(0.0, now - self._last)
            self._last = now
            moved = np.clip(self._moved, -limit, limit)
            self._moved -= moved
            gripper = self._latched or any(name in GRIPPER_KEYS for name in self._held)
        self.target = np.clip(self.target + moved * self.speed, -TARGET_LIMIT, TARGET_LIMIT).astype(
            np.float32
        )
        out = np.zeros(ACTION_DIM, dtype=np.float32)
        out[:3] = self.target
        out[3] = 1.0 if gripper else 0.0
        return out


def phase_prompt(phase: Phase, attempt: int, end_reason: EndReason, discard: str = "Ctrl") -> str:
    """What the operator can do now, printed when the sim's phase changes (`discard`: the re-record
    key's name, `x` in a terminal)."""
    if phase is Phase.RUNNING:
        return (
            f"attempt {attempt} recording - Space: finish it, {discard}: discard it, Esc: stop (discards it)"
        )
    if phase is Phase.DONE:
        if end_reason.saved:
            return (
                f"attempt {attempt} ended ({end_reason.value}) - Space: keep it and reset, "
                f"{discard}: discard it, Esc: keep it and stop"
            )
        return f"attempt {attempt} ended ({end_reason.value}, not kept) - Space: reset, Esc: stop"
    return f"scene ready - Space: start attempt {attempt + 1}, Esc: stop"
