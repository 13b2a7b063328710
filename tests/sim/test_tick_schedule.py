"""The clock's tick grid: fixed period, no bursts after a late wake-up, and a takeover's tick at once."""

from __future__ import annotations

import pytest

from sim_teleop.sim.clock import TickSchedule


def test_ticks_keep_a_fixed_grid_and_skip_rather_than_burst() -> None:
    schedule = TickSchedule(0.1)
    schedule.start(0.0)
    assert schedule.fire(0.0) == 0
    assert schedule.wait_s(0.03) == pytest.approx(0.07)
    assert schedule.fire(0.101) == 1  # 1 ms late: the grid does not move
    assert schedule.wait_s(0.101) == pytest.approx(0.099)
    assert schedule.fire(0.45) == 2  # woke 250 ms late: the grid points at 0.3 and 0.4 are skipped
    assert schedule.skipped == 2
    assert schedule.wait_s(0.45) == pytest.approx(0.05)


def test_a_takeover_tick_goes_out_at_once_and_the_grid_restarts_a_period_after_it() -> None:
    schedule = TickSchedule(0.1)
    schedule.start(0.0)
    schedule.fire(0.0)
    schedule.fire(0.1)
    assert schedule.fire_now(0.137) == 2  # a key went down 37 ms after a tick: no wait for 0.2
    assert schedule.early == 1 and schedule.skipped == 0
    assert schedule.wait_s(0.137) == pytest.approx(0.1)  # never two ticks closer than a period after
    assert schedule.wait_s(0.2) > 0  # the old grid point at 0.2 is gone
    assert schedule.fire(0.237) == 3
    assert schedule.wait_s(0.237) == pytest.approx(0.1)
    assert schedule.lateness == pytest.approx([0.0, 0.0, 0.0])  # an early tick is not counted late
