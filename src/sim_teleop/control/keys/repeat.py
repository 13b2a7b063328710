"""Key holds from a terminal's auto-repeat: terminals send a key's character on press and then, while
it is held, again after the repeat delay (~0.25-0.66 s) and every repeat interval (~25-40 ms); they
never send a key-up. So a key is known to be down only up to its latest character:

- a first character is a tap until a repeat says otherwise; a tap counts `TAP` (a typical 0.1 s press);
- a hold is confirmed by two repeats in a row (the second within a few intervals of the first), which
  tells it from two taps; it then counts from the end of the tap on, paid out late by the teleop;
- while repeats keep coming the key stays down to half an interval past the latest one (the expected
  release); a gap longer than `release_after` means it was let go in between;
- a loaded machine delivers characters late (in bursts after a stall), never early and never drops
  one, so the latest repeat was sent no later than `min over k (arrival_k - k x interval)` + n x
  interval (the first repeat's earliest consistent time, counted on by the repeats seen): a late last
  character does not stretch the hold.

The tracker hands out contiguous `Hold(start, until)` spans and `Press` events (a new press, for the
control keys); it never takes back motion, so a repeat delivered late by a loaded machine only delays
motion, and one that arrives after a gap continues the same hold as long as the gap is under
`release_after`. Pure: times come from the caller (a fake clock in tests).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

TAP = 0.1
"""Seconds of motion a lone character (a tap, or a hold shorter than the repeat delay) counts."""
INTERVAL = 0.033
"""Repeat interval assumed until one is measured (xset's and most desktops' default is 25-40 ms)."""
FIRST_REPEAT_MAX = 1.0
"""A second character later than this after the first is a new press, not the first repeat."""
CONFIRM_MIN = 0.2
"""A third character within max(this, 3 intervals) of the second confirms a hold (not a second tap).
Taps closer together than this read as a hold; a loaded machine delays characters by up to ~0.15 s."""
LEARN_AFTER = 4
"""Repeat gaps seen before the measured interval replaces `INTERVAL`."""
RELEASE_AFTER = 0.3
"""A held key's repeats stopping for max(this, 4 intervals) means it was let go."""


@dataclass(frozen=True)
class Hold:
    """The key was down from `start` to `until` (spans of one hold are contiguous)."""

    name: str
    start: float
    until: float


@dataclass(frozen=True)
class Press:
    """A new press of the key (not a repeat): control keys act on it."""

    name: str


KeyEvent = Hold | Press


class _Stage(Enum):
    ONE = "one character"
    TWO = "two characters"
    HELD = "held"


@dataclass
class _Key:
    stage: _Stage
    first: float  # time of the press's first character
    last: float  # time of its latest character
    end: float  # end of the spans handed out so far
    repeats: list[float] = field(default_factory=list)  # arrival times of this hold's repeats


class RepeatTracker:
    """Characters of keys with their arrival times -> holds and presses."""

    def __init__(self, tap: float = TAP, interval: float = INTERVAL) -> None:
        self.tap = tap
        self.interval = interval  # the median of measured repeat gaps once there are some
        self._gaps: deque[float] = deque(maxlen=32)
        self._keys: dict[str, _Key] = {}

    @property
    def confirm_within(self) -> float:
        return max(CONFIRM_MIN, 3 * self.interval)

    @property
    def release_after(self) -> float:
        return max(RELEASE_AFTER, 4 * self.interval)

    def key(self, name: str, t: float) -> list[KeyEvent]:
        """A character of key `name` arrived at `t`."""
        out = self.expire(t) + self._interrupted(name)
        k = self._keys.get(name)
        if k is None:
            return [*out, *self._press(name, t)]
        if k.stage is _Stage.ONE:
            k.stage, k.last = _Stage.TWO, t
            return out
        if k.stage is _Stage.TWO:
            k.repeats.append(k.last)  # the second character was the first repeat
        self._learn(t - k.last)
        k.stage, k.last = _Stage.HELD, t
        k.repeats.append(t)
        until = max(k.end, self._sent_by(k.repeats) + self.interval / 2)
        out.append(Hold(name, k.end, until))
        k.end = until
        return out

    def _sent_by(self, repeats: list[float]) -> float:
        """The latest time the last repeat can have been sent, given arrivals that are never early."""
        step = self.interval
        first = min(t - i * step for i, t in enumerate(repeats))
        return min(repeats[-1], first + (len(repeats) - 1) * step)

    def expire(self, now: float) -> list[KeyEvent]:
        """Decisions that silence makes by `now`: a tap, a second tap, a release."""
        out: list[KeyEvent] = []
        for name, k in list(self._keys.items()):
            if now <= self._deadline(k):
                continue
            del self._keys[name]
            if k.stage is _Stage.TWO:  # no repeat followed the second character: a second tap
                out += self._press(name, k.last)
        return out

    def _interrupted(self, name: str) -> list[KeyEvent]:
        """Another key's character: a terminal repeats only the latest key, so a key being repeated
        can no longer be followed (held: let go; two characters: the second was a tap)."""
        out: list[KeyEvent] = []
        for other, k in list(self._keys.items()):
            if other != name and k.stage is not _Stage.ONE:
                del self._keys[other]
                if k.stage is _Stage.TWO:
                    out += self._press(other, k.last)
                    del self._keys[other]
        return out

    def deadline(self) -> float | None:
        """When `expire` next has something to decide."""
        return min((self._deadline(k) for k in self._keys.values()), default=None)

    def _deadline(self, k: _Key) -> float:
        if k.stage is _Stage.ONE:
            return k.first + FIRST_REPEAT_MAX
        return k.last + (self.confirm_within if k.stage is _Stage.TWO else self.release_after)

    def _press(self, name: str, t: float) -> list[KeyEvent]:
        self._keys[name] = _Key(_Stage.ONE, first=t, last=t, end=t + self.tap)
        return [Press(name), Hold(name, t, t + self.tap)]

    def _learn(self, gap: float) -> None:
        """The repeat interval is the median gap once there are LEARN_AFTER (late characters lengthen
        some gaps and shorten others; most are untouched)."""
        if gap > 0.005:  # characters delivered in a burst say nothing about the rate
            self._gaps.append(gap)
        if len(self._gaps) >= LEARN_AFTER:
            self.interval = min(0.2, statistics.median(self._gaps))
