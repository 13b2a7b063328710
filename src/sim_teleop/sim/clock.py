"""Ticks on a fixed grid: `TickSchedule` sends them (the clock node), `TickCounter` counts how many of
them a receiver served (the sim's missed ticks, the expert's served fraction).

A tick source whose period comes from the environment, for faster-than-real-time generation.

dora 1.1 expands `${VAR:-default}` only in `env:` values, not in an input such as
`dora/timer/millis/100` (a variable there fails the whole file), so the autopilot and eval dataflows
take their sim ticks from this node, with the run's period (`RunConfig.tick_period_s`: env TICK_MS, which
each YAML sets from AUTOPILOT_TICK_MS / EVAL_TICK_MS).
Like dora's timer it keeps a fixed grid (no drift) and never bursts to catch up: a tick that is
overdue by more than a period is skipped and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class TickSchedule:
    period_s: float
    next_due: float = 0.0
    sent: int = 0
    skipped: int = 0
    early: int = 0  # ticks sent at once for a takeover (`fire_now`)
    lateness: list[float] = field(default_factory=list)  # seconds each tick went out after its due time

    def __post_init__(self) -> None:
        if not self.period_s > 0:
            raise ValueError(f"tick period must be > 0, got {self.period_s}")

    def start(self, now: float) -> None:
        self.next_due = now

    def wait_s(self, now: float) -> float:
        """Seconds until the next tick is due (<= 0: send it now)."""
        return self.next_due - now

    def fire(self, now: float) -> int:
        """Register a tick sent at `now`; returns its index. Grid points already missed are skipped."""
        index = self.sent
        self.sent += 1
        self.lateness.append(now - self.next_due)
        self.next_due += self.period_s
        if now >= self.next_due:  # woke up more than a period late: do not burst
            missed = math.floor((now - self.next_due) / self.period_s) + 1
            self.skipped += missed
            self.next_due += missed * self.period_s
        return index

    def fire_now(self, now: float) -> int:
        """Register a tick sent at `now`, ahead of the grid: a person took over, and their first key
        should drive a tick within milliseconds rather than wait up to a period for the next one. The
        grid restarts a period after it, so ticks never come closer than that again (at most one
        tick's worth of sim time runs ahead of the wall clock per takeover). Returns its index."""
        index = self.sent
        self.sent += 1
        self.early += 1
        self.next_due = now + self.period_s
        return index

    def late_ms(self, quantile: float) -> float:
        """Lateness quantile in milliseconds (0 when nothing was sent)."""
        if not self.lateness:
            return 0.0
        ordered = sorted(self.lateness)
        return 1000.0 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


class TickCounter:
    """Counts ticks served against the tick grid, from wall time (a late step makes dora drop ticks).

    The grid starts at the first served tick; a tick that queued while the receiver was busy and so
    arrives early re-anchors the grid on it, so `missed` never goes negative.
    """

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.start: float | None = None
        self.served = 0
        self.expected = 0  # grid points up to the latest served tick

    def serve(self, now: float) -> tuple[int, int]:
        """Register one served tick at `now`; return (tick_index, ticks_missed so far)."""
        if self.start is None:
            self.start = now
        self.served += 1
        expected = int((now - self.start) / self.period_s + 0.5) + 1
        if expected < self.served:
            self.start = now - (self.served - 1) * self.period_s
            expected = self.served
        self.expected = expected
        return expected - 1, expected - self.served

    @property
    def missed(self) -> int:
        return self.expected - self.served

    def restart(self) -> None:
        """Count from the next tick: dora's first send_output blocks ~1 s while its channel opens."""
        self.start = None
        self.served = 0
        self.expected = 0
