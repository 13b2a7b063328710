"""KEYBOARD_BACKEND=auto|x11|terminal|evdev -> a started backend and one line saying which and why.

auto: X11 when an X server answers on DISPLAY (not on a Wayland desktop, not a display forwarded over
SSH: keys typed there never reach it); else the terminal `dora run` runs in the foreground of, with its
input on that terminal; else evdev when a keyboard under /dev/input can be read; else an error naming
each reason. The terminal comes before evdev because over SSH evdev would read the remote machine's
keyboard, not the person's.
"""

from __future__ import annotations

import os

from sim_teleop.control.keys import Keys
from sim_teleop.control.keys.evdev_keys import EvdevKeys, keyboards
from sim_teleop.control.keys.terminal import TerminalKeys, foreground_owner, open_terminal, parents_terminal
from sim_teleop.control.keys.x11 import X11Keys, x11_unusable
from sim_teleop.control.teleop import KeyboardTeleop

BACKENDS = ("auto", "x11", "terminal", "evdev")


def terminal_unusable() -> str | None:
    """Why auto would not read the terminal, or None: it needs a controlling terminal whose
    foreground is dora run and which is dora run's input (a test runner that started dora with its
    input elsewhere does not hand over its terminal)."""
    try:
        fd = open_terminal()
    except RuntimeError as exc:
        return str(exc)
    try:
        foreground_owner(fd)
        if parents_terminal() is None:
            return "dora run's input is not the terminal"
    except (RuntimeError, OSError) as exc:
        return str(exc)
    finally:
        os.close(fd)
    return None


def evdev_unusable() -> str | None:
    try:
        keyboards()
    except RuntimeError as exc:
        return str(exc)
    return None


def start(name: str, teleop: KeyboardTeleop) -> Keys:
    """Start the named backend; RuntimeError with the reason when it cannot."""
    if name == "x11":
        return X11Keys(teleop).start()
    if name == "terminal":
        return TerminalKeys(teleop).start()
    return EvdevKeys(teleop).start()


def open_keys(requested: str, teleop: KeyboardTeleop) -> tuple[Keys, str]:
    """(the started backend, why it was picked); RuntimeError naming every reason when none can run."""
    if requested != "auto":
        return start(requested, teleop), f"KEYBOARD_BACKEND={requested}"
    reasons: list[str] = []
    for name, unusable in (("x11", x11_unusable), ("terminal", terminal_unusable), ("evdev", evdev_unusable)):
        reason = unusable()
        if reason is None:
            return start(name, teleop), "auto: " + ("; ".join(reasons) or "an X server answers")
        reasons.append(reason)
    raise RuntimeError("; ".join(reasons))
