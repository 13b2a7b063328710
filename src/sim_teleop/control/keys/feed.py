"""A terminal's keys -> `KeyboardTeleop` calls: bindings, auto-repeat holds, the gripper toggle.

Pure (bytes and times in, teleop calls out), so a fake clock drives it in tests; `keys.terminal` owns
the tty and calls `feed` / `tick`.

Keys a terminal cannot send alone get letters (the desktop key in brackets): r / PageUp = up [Right
Shift], f / PageDown = down [Left Shift], x / Backspace = discard [Ctrl], g = close / open the gripper
[Super, held]. The gripper toggles because a terminal repeats only the latest key held: Super held
while an arrow moves would read as let go. With the kitty protocol the desktop keys work too, with
their real press and release.
"""

from __future__ import annotations

from collections.abc import Callable

from sim_teleop.control.keys.decode import Key, TerminalDecoder
from sim_teleop.control.keys.repeat import Hold, KeyEvent, Press, RepeatTracker
from sim_teleop.control.teleop import CONTROL_KEYS, MOTION_KEYS, KeyboardTeleop

LETTERS = {
    "r": "shift_r",
    "page_up": "shift_r",
    "f": "shift",
    "page_down": "shift",
    "x": "ctrl",
    "backspace": "ctrl",
}
GRIPPER_TOGGLE = "g"
GRIPPER = "cmd"

LEGEND = (
    "keys in this terminal (one at a time: a terminal repeats only the latest key held):",
    "  arrows          move x / y while held (a tap moves 1 cm)",
    "  r / f           move up / down (also PageUp / PageDown)",
    "  g               close / open the gripper",
    "  Space           start an attempt / finish it / keep it and reset",
    "  x / Backspace   discard the attempt and reset (re-record)",
    "  Esc             stop (a finished attempt is kept)      Ctrl-C  stop dora",
)


class TerminalFeed:
    """Decodes bytes, follows auto-repeat (legacy) or press/release (kitty) and drives the teleop."""

    def __init__(
        self,
        teleop: KeyboardTeleop,
        on_interrupt: Callable[[], None] = lambda: None,
        decoder: TerminalDecoder | None = None,
        tracker: RepeatTracker | None = None,
    ) -> None:
        self.teleop = teleop
        self.on_interrupt = on_interrupt
        self.decoder = decoder or TerminalDecoder()
        self.tracker = tracker or RepeatTracker()
        self.gripper_closed = False

    def feed(self, data: bytes, now: float) -> None:
        for key in self.decoder.feed(data, now):
            self._key(key, now)

    def tick(self, now: float) -> None:
        """Timeouts: a lone ESC, a tap, a second tap, a release."""
        for key in self.decoder.flush(now):
            self._key(key, now)
        self._events(self.tracker.expire(now))

    def deadline(self) -> float | None:
        times = [t for t in (self.decoder.deadline(), self.tracker.deadline()) if t is not None]
        return min(times, default=None)

    def _key(self, key: Key, now: float) -> None:
        if key.name == "interrupt":
            if key.kind in ("typed", "press"):
                self.on_interrupt()
            return
        name = LETTERS.get(key.name, key.name)
        if key.kind == "typed":
            self._events(self.tracker.key(name, now))
        elif key.kind == "press":
            self._press(name)
        elif key.kind == "release" and name != GRIPPER_TOGGLE:
            self.teleop.release(name)

    def _events(self, events: list[KeyEvent]) -> None:
        for event in events:
            if isinstance(event, Press):
                self._press(event.name, typed=True)
            elif isinstance(event, Hold) and event.name in MOTION_KEYS:
                self.teleop.hold(event.name, event.start, event.until)

    def _press(self, name: str, typed: bool = False) -> None:
        """A new press. Typed (no release will come): control keys act now, motion comes as holds."""
        if name == GRIPPER_TOGGLE:
            self.gripper_closed = not self.gripper_closed
            (self.teleop.press if self.gripper_closed else self.teleop.release)(GRIPPER)
        elif not typed:
            self.teleop.press(name)
        elif name in CONTROL_KEYS:
            self.teleop.press(name)
            self.teleop.release(name)
