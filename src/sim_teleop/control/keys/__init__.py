"""Keyboard backends: each turns one kind of device's events into `KeyboardTeleop` press/release (or
hold) calls; the teleop logic exists once (`control.teleop`). `choose.open_keys` picks one."""

from __future__ import annotations

from typing import Protocol


class Keys(Protocol):
    name: str  # x11 / terminal / evdev
    discard_key: str  # how the phase prompts name the re-record key
    tty: str  # what it reads (a display, a terminal, event files), for the one line that says so

    @property
    def legend(self) -> tuple[str, ...]: ...

    def stop(self) -> None: ...
