"""The X11 backend: pynput's listener (XRecord) sees every key with its press and release, whatever
window has the focus. Needs an X server; on a Wayland desktop it sees only keys sent to X windows."""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

from sim_teleop.control.teleop import KeyboardTeleop, key_name

LEGEND = ("arrows x/y, Shift L/R z down/up, Super = close gripper, Space next, Ctrl re-record, Esc stop",)


def x11_unusable(env: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """Why the X11 backend would see no keys here, or None when an X server answers on DISPLAY."""
    if sys.platform == "darwin":
        return None  # pynput's macOS listener (Quartz), with the Accessibility permission
    display = env.get("DISPLAY", "")
    if not display:
        return "no X display (DISPLAY is not set)"
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        return "a Wayland session (X11 sees no keys typed into Wayland windows)"
    host, _, rest = display.rpartition(":")
    if env.get("SSH_CONNECTION") and host not in ("", "unix"):
        return f"DISPLAY={display} is forwarded over SSH (keys typed in the SSH terminal never reach it)"
    return None if _answers(host, rest.split(".")[0]) else f"no X server answers on DISPLAY={display}"


def _answers(host: str, number: str) -> bool:
    if not number.isdigit():
        return False
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1.0)
                s.connect(f"/tmp/.X11-unix/X{number}")
        else:
            socket.create_connection((host, 6000 + int(number)), timeout=1.0).close()
    except OSError:
        return False
    return True


class X11Keys:
    """pynput's listener feeding the teleop; `stop` ends it."""

    name = "x11"
    discard_key = "Ctrl"
    legend = LEGEND

    def __init__(self, teleop: KeyboardTeleop) -> None:
        self.teleop = teleop
        self._listener: Any = None
        self.tty = os.environ.get("DISPLAY", "")

    def start(self) -> X11Keys:
        """Raises RuntimeError with a readable reason when there is no X display."""
        if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
            raise RuntimeError("no X display (DISPLAY is not set)")
        try:
            from pynput import keyboard
        except ImportError as exc:  # pynput's Linux backend fails to import without an X connection
            raise RuntimeError(f"cannot use the keyboard: {exc}") from None
        self._listener = keyboard.Listener(
            on_press=lambda key: self.teleop.press(key_name(key)),
            on_release=lambda key: self.teleop.release(key_name(key)),
        )
        self._listener.daemon = True
        self._listener.start()
        self._listener.wait()
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
