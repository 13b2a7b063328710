"""The sim's watch on its consumer: a recorder that stops receiving frames ends the run.

Why: the sim steps on a timer and never waits for anyone, so a consumer that stalls (a stuck scorer or
recorder, a frozen daemon on another machine: backpressure does not cross machines) used to leave the
sim and its controller running on, simulating episodes nobody recorded (measured: a 14 s stall of the
recording daemon lost 5 whole episodes silently, and the run never ended). The recorder sends the last
tick it received on `progress` about once a second while frames arrive; when none has arrived for
`stall_s` while the sim runs, the sim stops the run with one line and a non-zero exit.

The recorder watches the other way: once frames have arrived, none for `stall_s` (the sim's daemon gone
or cut off, whose frame input then never closes) ends its part of the run too, non-zero.
Armed by the first `progress` message (the first frame), so a dataflow without that edge behaves as
before.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sim_teleop.config import DEFAULT_STALL_S

PROGRESS_EVERY_S = 1.0
"""How often the recorder reports (at most): cheap, and far below any stall worth stopping for."""


class ProgressReporter:
    """Recorder side: says whether to send a `progress` message for the frame just received."""

    def __init__(
        self, every_s: float = PROGRESS_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every_s = every_s
        self.clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self.clock()
        if self._last is not None and now - self._last < self.every_s:
            return False
        self._last = now
        return True


class ConsumerWatch:
    """Sim side: the time since the consumer last reported, and whether that is a stall."""

    def __init__(self, stall_s: float = DEFAULT_STALL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_s = stall_s
        self.clock = clock
        self.heard_at: float | None = None  # None: not armed (no report yet)
        self.last_tick = -1

    def heard(self, tick: int) -> None:
        self.heard_at = self.clock()
        self.last_tick = max(self.last_tick, tick)

    def stalled(self) -> float | None:
        """Seconds of silence when they exceed `stall_s` (None otherwise, or when not armed)."""
        if self.heard_at is None or self.stall_s <= 0:
            return None
        silent = self.clock() - self.heard_at
        return silent if silent > self.stall_s else None

    def line(self, silent_s: float, sim_tick: int) -> str:
        return (
            f"the recorder has received no frame for {silent_s:.0f} s (its last tick {self.last_tick}, the "
            f"sim is at tick {sim_tick}; stalled or cut off): stopping the run rather than simulating "
            f"episodes nobody records; the episodes it saved are kept"
        )
