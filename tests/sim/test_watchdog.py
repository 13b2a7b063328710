"""The sim's watch on its recorder (fake clock): silence past the limit is a stall, a slow consumer is not."""

from __future__ import annotations

from sim_teleop.messages import decode_tick, encode_tick
from sim_teleop.sim.watchdog import ConsumerWatch, ProgressReporter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_silent_recorder_is_a_stall_only_after_the_limit_and_only_once_armed() -> None:
    clock = FakeClock()
    watch = ConsumerWatch(stall_s=30.0, clock=clock)
    clock.now += 1000
    assert watch.stalled() is None  # not armed: a flow without the progress edge
    watch.heard(5)
    clock.now += 29.9
    assert watch.stalled() is None
    clock.now += 0.2
    assert watch.stalled() is not None and abs(watch.stalled() - 30.1) < 1e-9  # type: ignore[operator]
    watch.heard(6)
    assert watch.stalled() is None
    assert "last tick 6" in watch.line(31, 400) and "tick 400" in watch.line(31, 400)


def test_a_slow_but_moving_recorder_is_never_a_stall() -> None:
    """A recorder far behind the sim still reports once a second: lag is not a stall."""
    clock = FakeClock()
    watch = ConsumerWatch(stall_s=30.0, clock=clock)
    reporter = ProgressReporter(every_s=1.0, clock=clock)
    sent = 0
    for tick in range(2000):  # frames arrive at 4 Hz, far behind a 10 Hz sim
        clock.now += 0.25
        if reporter.due():
            sent += 1
            watch.heard(tick)
        assert watch.stalled() is None
    assert sent == 500  # once a second, not once a frame


def test_a_stall_limit_of_zero_switches_the_watch_off() -> None:
    clock = FakeClock()
    watch = ConsumerWatch(stall_s=0.0, clock=clock)
    watch.heard(1)
    clock.now += 1e6
    assert watch.stalled() is None


def test_tick_messages_round_trip() -> None:
    assert decode_tick(encode_tick(12345)) == 12345
