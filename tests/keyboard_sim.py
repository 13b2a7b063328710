"""A terminal's auto-repeat, simulated: key holds -> the characters a terminal sends, with the times
they arrive (optionally late, as on a loaded machine); and the same holds through the X11 path."""

from __future__ import annotations

import random

import numpy as np

from sim_teleop.control.keys.feed import TerminalFeed
from sim_teleop.control.teleop import KeyboardTeleop

SEQUENCES = {"up": b"\x1b[A", "down": b"\x1b[B", "right": b"\x1b[C", "left": b"\x1b[D", "space": b" "}
FRAME = 0.1


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def repeat_stream(
    holds: list[tuple[str, float, float]], delay: float = 0.5, interval: float = 0.033
) -> list[tuple[float, str]]:
    """(time, key) of every character: one at the press, then after `delay` every `interval`."""
    out: list[tuple[float, str]] = []
    for name, down, up in holds:
        out.append((down, name))
        t = down + delay
        while t < up:
            out.append((t, name))
            t += interval
    return sorted(out)


def delivered_late(chars: list[tuple[float, str]], most: float, seed: int = 0) -> list[tuple[float, str]]:
    """A loaded machine: each character is read up to `most` late, in order (bursts after a stall)."""
    rng = random.Random(seed)
    out, last = [], 0.0
    for t, name in chars:
        last = max(last, t + rng.uniform(0, most) * (rng.random() < 0.3))
        out.append((last, name))
    return out


def through_terminal(chars: list[tuple[float, str]], end: float) -> tuple[np.ndarray, TerminalFeed]:
    """Actions per frame (every FRAME s up to `end`) with the characters fed as they arrive."""
    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    feed = TerminalFeed(teleop)
    actions, pending = [], list(chars)
    for frame in (float(f) for f in np.arange(0.0, end, FRAME)):
        while pending and pending[0][0] <= frame:
            t, name = pending.pop(0)
            clock.t = t
            feed.tick(t)
            feed.feed(SEQUENCES.get(name, name.encode()), t)
        clock.t = frame
        feed.tick(frame)
        actions.append(teleop.action())
    return np.array(actions), feed


def through_x11(holds: list[tuple[str, float, float]], end: float) -> np.ndarray:
    """The same holds with real press and release events (the X11 and evdev paths)."""
    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    events = sorted([(down, "press", n) for n, down, _ in holds] + [(up, "release", n) for n, _, up in holds])
    actions = []
    for frame in (float(f) for f in np.arange(0.0, end, FRAME)):
        while events and events[0][0] <= frame:
            t, kind, name = events.pop(0)
            clock.t = t
            (teleop.press if kind == "press" else teleop.release)(name)
        clock.t = frame
        actions.append(teleop.action())
    return np.array(actions)
