"""The evdev backend: keys read from the keyboards under /dev/input, with their real press and release.

Works wherever the kernel sees the keyboard (a Wayland desktop, a text console, a robot's own
keyboard with no terminal), for a user allowed to read /dev/input/event* (usually the group `input`).
It reads the physical keyboard of the machine the node runs on, whichever window has the focus, so
over SSH it is the wrong keyboard: auto picks it only when there is no terminal.

Not pynput's `uinput` listener: it loads the layout with `dumpkeys` (root or a console only) and
reports both Shift keys as one. Keys here are the kernel's key codes, layout-free; events are the
kernel's `struct input_event` (on 64-bit Linux: seconds, microseconds, type, code, value), read with
`os.read`, so recorded events replay through a pipe. python-evdev (a pynput dependency) only finds
the keyboards.
"""

from __future__ import annotations

import contextlib
import glob
import grp
import os
import select
import struct
import threading
from collections.abc import Iterable

from sim_teleop.control.teleop import KeyboardTeleop

EVENT = struct.Struct("llHHi")
EV_KEY = 1
KEY_NAMES = {  # linux/input-event-codes.h -> pynput's names, as the X11 backend reports them
    1: "esc",
    29: "ctrl",
    42: "shift",
    54: "shift_r",
    57: "space",
    97: "ctrl_r",
    103: "up",
    105: "left",
    106: "right",
    108: "down",
    125: "cmd",
    126: "cmd_r",
}
LEGEND = ("arrows x/y, Shift L/R z down/up, Super = close gripper, Space next, Ctrl re-record, Esc stop",)


def apply_events(teleop: KeyboardTeleop, data: bytes) -> bytes:
    """Feed whole `input_event`s from `data` to the teleop; returns the incomplete tail."""
    whole = len(data) - len(data) % EVENT.size
    for _sec, _usec, kind, code, value in EVENT.iter_unpack(data[:whole]):
        name = KEY_NAMES.get(code)
        if kind != EV_KEY or name is None or value == 2:  # 2: the kernel's auto-repeat
            continue
        (teleop.press if value == 1 else teleop.release)(name)
    return data[whole:]


def keyboards(paths: Iterable[str] | None = None) -> list[str]:
    """Event devices that have arrows and Space; RuntimeError saying why none can be read."""
    paths = sorted(glob.glob("/dev/input/event*")) if paths is None else list(paths)
    if not paths:
        raise RuntimeError("no input devices under /dev/input")
    readable = [p for p in paths if os.access(p, os.R_OK)]
    if not readable:
        raise RuntimeError(f"not permitted to read {paths[0]}: {_join_hint(paths[0])}")
    found = [p for p in readable if _is_keyboard(p)]
    if not found:
        raise RuntimeError("no keyboard among the input devices under /dev/input")
    return found


def _join_hint(path: str) -> str:
    try:
        group = grp.getgrgid(os.stat(path).st_gid).gr_name
    except (KeyError, OSError):
        group = "input"
    return f"join the group '{group}' (sudo usermod -aG {group} $USER, then log in again)"


def _is_keyboard(path: str) -> bool:
    try:
        import evdev

        with contextlib.closing(evdev.InputDevice(path)) as dev:
            keys = dev.capabilities().get(EV_KEY, [])
    except (ImportError, OSError):
        return False
    return {57, 103, 105, 106, 108} <= set(keys)


class EvdevKeys:
    """Reads every keyboard found (or the given event files) in a thread; `stop` ends it."""

    name = "evdev"
    discard_key = "Ctrl"
    legend = LEGEND

    def __init__(self, teleop: KeyboardTeleop, paths: list[str] | None = None) -> None:
        self.teleop = teleop
        self.paths = keyboards() if paths is None else paths
        self.tty = ", ".join(self.paths)
        self._fds = [os.open(p, os.O_RDONLY | os.O_NONBLOCK) for p in self.paths]
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="evdev-keys", daemon=True)

    def start(self) -> EvdevKeys:
        self._thread.start()
        return self

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        tails = dict.fromkeys(self._fds, b"")
        while tails:
            ready, _, _ = select.select([*tails, self._wake_r], [], [])
            if self._wake_r in ready:
                break
            for fd in ready:
                try:
                    data = os.read(fd, EVENT.size * 64)
                except BlockingIOError:
                    continue
                except OSError:  # the keyboard was unplugged
                    data = b""
                if not data:
                    del tails[fd]
                    continue
                tails[fd] = apply_events(self.teleop, tails[fd] + data)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
