"""The per-family meters of `EpisodeAccumulator` on their own, with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from sim_teleop.quality import QualityConfig, SignalLayout
from sim_teleop.quality.metrics import (
    REPORT_ORDER,
    CrawlMeter,
    DetourMeter,
    DropMeter,
    EpisodeAccumulator,
    GripEvent,
    GripperMeter,
    IdleMeter,
    PathMeter,
    PlayFilter,
    SaturationMeter,
    SignalReader,
    SpikeMeter,
    TurningMeter,
)

TH = QualityConfig().thresholds
DT = 0.1


def test_signal_reader_prefers_the_action_gripper_and_scales_it() -> None:
    layout = SignalLayout(tcp=(0, 1, 2), state_gripper=3, state_gripper_max=100.0, action_gripper_max=2.0)
    p, c, g = SignalReader(layout).read(np.array([1, 2, 3, 50.0]), np.array([0.1, 0.2, 0.3, 3.0]))
    assert p is not None and c is not None
    assert p.tolist() == [1, 2, 3] and c.tolist() == pytest.approx([0.1, 0.2, 0.3]) and g == 1.0
    no_action = SignalLayout(tcp=(0, 1, 2), state_gripper=3, state_gripper_max=100.0, action_gripper=None)
    assert SignalReader(no_action).read(np.array([1, 2, 3, 50.0]), np.zeros(4))[2] == 0.5


def test_gripper_events_chatter_and_carrying() -> None:
    meter = GripperMeter(TH)
    events = [meter.add(g) for g in (0.0, 1.0, 1.0, 1.0, 0.0, 1.0)]
    assert events == [None, GripEvent.CLOSED, None, None, GripEvent.OPENED, GripEvent.CLOSED]
    assert not meter.carrying  # closed again for one frame only
    assert meter.changed(0.0) and not meter.changed(1.0) and not meter.changed(None)
    assert meter.raw() == {"gripper_tv": 3.0, "gripper_chatter": 2.0}


def test_drop_counts_a_release_above_the_grasp_and_a_lifted_cube_falling() -> None:
    meter = DropMeter(TH)
    meter.grasp(0.03)
    meter.release(0.03 + TH["drop_min_lift"] / 2)  # put down near where it was taken: no drop
    assert meter.raw()["drop_release_lift"] == 0.0
    meter.release(0.23)
    for z in (0.02, 0.2, 0.05, np.nan):
        meter.add_cube(np.array([0, 0, z]))
    assert meter.raw() == pytest.approx({"drop_release_lift": 0.2, "drop_cube_fall": 0.15, "drop": 0.2})


def _standstill(meter: IdleMeter, frames: int, grip_at: int | None = None) -> None:
    for i in range(frames):
        meter.add(np.zeros(3), grip_changed=i == grip_at, first=False)


def test_idle_counts_only_the_excess_of_a_start_or_grasp_wait() -> None:
    move = np.array([0.02, 0.0, 0.0])
    start = round(TH["start_wait_s"] / DT)
    grasp = round(TH["grasp_wait_s"] / DT)
    meter = IdleMeter(TH, DT)
    meter.add(None, grip_changed=False, first=True)
    _standstill(meter, start + 3)  # getting ready: only 3 frames beyond the allowance
    meter.add(move, grip_changed=False, first=False)
    _standstill(meter, grasp + 2, grip_at=4)  # closing the gripper mid-standstill: 2 beyond
    meter.add(move, grip_changed=False, first=False)
    assert meter.raw()["idle_pause_s"] == pytest.approx(3 * DT)
    _standstill(meter, 7)  # mid-motion, no gripper: all of it, and still open at the end
    raw = meter.raw()
    assert raw["idle_pause_s"] == pytest.approx(7 * DT)
    assert raw["idle_fraction"] == pytest.approx((3 + 2 + 7) / meter.pairs)


@pytest.mark.parametrize(
    ("tap", "is_look"),
    [
        (np.array([0.005, 0.0, 0.0]), True),  # a sideways keyboard tap: a correction
        (np.array([0.0, 0.0, 0.006]), True),  # a tap back up against the way it was going
        (np.array([0.0, 0.0, -0.005]), False),  # a nudge on the way it was going: no correction
        (np.array([0.002, 0.0, 0.0]), False),  # a trembling hand, under a tap
        (None, False),  # nothing moved at all
    ],
)
def test_a_standstill_with_a_corrective_tap_is_a_look(tap: np.ndarray | None, is_look: bool) -> None:
    """Down, stop 1.5 s (a tap in it, filtered out as play), on down: a look, or else a hesitation."""
    down = np.array([0.0, 0.0, -0.01])
    meter = IdleMeter(TH, DT)
    meter.add(None, grip_changed=False, first=True)
    meter.add(down, grip_changed=False, first=False, raw_step=down)
    for i in range(15):
        meter.add(np.zeros(3), grip_changed=False, first=False, raw_step=tap if i == 4 else np.zeros(3))
    meter.add(down, grip_changed=False, first=False, raw_step=down)
    raw = meter.raw()
    assert raw["look_s"] == pytest.approx(1.5 if is_look else 0.0)
    assert raw["idle_pause_s"] == pytest.approx(0.0 if is_look else 1.5)


def test_idle_grasp_wait_starts_within_the_grace_after_a_gripper_change() -> None:
    grace = round(TH["grip_grace_s"] / DT)
    for moving_after_change, expect_grasp in ((grace, True), (grace + 1, False)):
        meter = IdleMeter(TH, DT)
        meter.add(None, grip_changed=False, first=True)
        meter.add(np.array([0.02, 0, 0]), grip_changed=True, first=False)
        for _ in range(moving_after_change - 1):
            meter.add(np.array([0.02, 0, 0]), grip_changed=False, first=False)
        _standstill(meter, 20)
        allow = round(TH["grasp_wait_s"] / DT) if expect_grasp else 0
        assert meter.raw()["idle_pause_s"] == pytest.approx((20 - allow) * DT)


def test_play_filter_holds_still_through_tremor_and_passes_motion() -> None:
    r = TH["play"]
    f = PlayFilter(r)
    rng = np.random.default_rng(0)
    assert f.add(np.zeros(3)) is None
    steps = [f.add(rng.uniform(-r, r, 3)) for _ in range(50)]  # a trembling hand that holds still
    assert all(step is not None and not step.any() for step in steps)
    moved = [f.add(np.array([0.01 * k, 0, 0])) for k in range(1, 6)]  # 1 cm a frame along x
    assert moved[-1] is not None and moved[-1][0] == pytest.approx(0.01)
    assert f.y is not None and f.y[0] == pytest.approx(0.05 - r)  # trails by the radius


def test_crawl_counts_steady_steps_slower_than_the_episodes_cruise() -> None:
    """Cruising at the expert's 0.18 m/s, then a steady stretch at half the crawl speed: that stretch
    crawls; the ramps between do not."""
    meter = CrawlMeter(TH, DT)
    x = 0.0
    for speed in [0.18] * 8 + [0.5 * TH["crawl_speed"]] * 6:
        x += speed * DT
        meter.add(np.array([x, 0.0, 0.0]))
    raw = meter.raw()
    assert raw["cruise_speed"] == pytest.approx(0.18)
    assert 3 <= meter.crawl <= 5 and raw["crawl_fraction"] == meter.crawl / 13


def test_a_keyboards_steady_pace_is_not_crawling() -> None:
    """0.1 m/s an axis, below the fixed 0.105 m/s crawl speed: it is this operator's cruise, not a crawl."""
    meter = CrawlMeter(TH, DT)
    for k in range(20):
        meter.add(np.array([0.01 * k, 0.0, 0.0]))
    assert meter.raw() == {"crawl_fraction": 0.0, "cruise_speed": pytest.approx(0.1)}
    fixed = CrawlMeter({**TH, "crawl_ratio": float("inf")}, DT)
    for k in range(20):
        fixed.add(np.array([0.01 * k, 0.0, 0.0]))
    assert fixed.raw()["crawl_fraction"] > 0.8


def test_crawl_ignores_a_hand_holding_still() -> None:
    meter = CrawlMeter(TH, DT)
    rng = np.random.default_rng(1)
    for _ in range(40):  # the filtered command of a trembling hand: sub-millimetre creep
        meter.add(rng.normal(0.0, 0.0005, 3))
    assert meter.crawl == 0


def test_spike_peaks_and_force_only_when_seen() -> None:
    meter = SpikeMeter(DT)
    for v in (None, np.zeros(3), np.array([0.01, 0, 0]), np.zeros(3)):
        meter.add(v, None)
    assert meter.raw() == pytest.approx({"spike_accel": 0.01 / DT**2})
    meter.add(None, float("nan"))
    assert "spike_force" not in meter.raw()
    meter.add(None, 12.0)
    assert meter.raw()["spike_force"] == 12.0


def test_saturation_at_the_command_limit_or_a_workspace_bound() -> None:
    meter = SaturationMeter(SignalLayout(), TH["sat_margin"])
    meter.add(np.array([0.4, 0.0, 0.0]), np.array([0.0, 0.35, 0.0]))  # command at its limit
    meter.add(np.array([0.4, 0.0, 0.5]), None)  # TCP at the top
    meter.add(np.array([0.4, 0.0, 0.0]), np.zeros(3))  # on the table: the task
    meter.add(None, None)
    assert meter.raw() == {"saturation": 0.5}


def test_detour_cuts_at_gripper_changes() -> None:
    out, back = np.array([0.05, 0, 0]), np.array([-0.05, 0, 0])
    for changed, expect in ((False, 0.05), (True, 0.0)):
        meter = DetourMeter(TH, DT)
        c = np.zeros(3)
        meter.add(c, None, None, False)
        meter.add(c + out, out, out, False)
        meter.add(c, back, back, changed)
        assert meter.raw()["detour"] == pytest.approx(expect)
    assert DetourMeter(TH, DT).raw() == {}


def test_detour_turns_where_the_filter_stands_but_the_raw_command_moves_back() -> None:
    """The filtered command stands for a frame at the far end of an excursion; the raw one does not."""
    zero, out = np.zeros(3), np.array([0.05, 0, 0])
    for raw_back, expect in ((-out, 0.05), (zero, 0.0)):
        meter = DetourMeter(TH, DT)
        meter.add(zero, None, None, False)
        meter.add(out, out, out, False)
        meter.add(out, zero, raw_back, False)  # the filter trails the reversal ...
        meter.add(out, zero, raw_back, False)  # ... for two frames: a stop, unless the raw command moved
        meter.add(zero, -out, -out, False)
        assert meter.raw()["detour"] == pytest.approx(expect)


def test_path_counts_rising_again_after_descending_as_a_detour() -> None:
    meter = PathMeter({**TH, "path_stride": 1})
    pts = [np.array([0.4, 0, z]) for z in (0.3, 0.25, 0.1, 0.2, 0.1)]
    for i, p in enumerate(pts):
        meter.add(p, p - pts[i - 1] if i else None, i, carrying=False)
    raw = meter.raw()
    assert raw["path_length_m"] == pytest.approx(0.4) and meter.travel.path == pytest.approx(0.4)
    assert raw["path_v_excess"] == pytest.approx(2 * 0.1 / 0.2)  # out and back over the needed 0.2 m
    meter.release()  # a new approach: the descent so far no longer counts
    assert not meter.descending


def _path_h_excess(moves: list[tuple[float, float]]) -> float:
    """path_h_excess of a TCP driven by straight moves (dx, dy), 1 cm a frame, at a constant height."""
    meter = PathMeter({**TH, "path_stride": 1})
    p = np.array([0.4, 0.0, 0.2])
    meter.add(p, None, 0, carrying=False)
    i = 0
    for dx, dy in moves:
        d = np.array([dx, dy, 0.0])
        steps = round(float(np.abs(d).max()) / 0.01)
        for _ in range(steps):
            i += 1
            p = p + d / steps
            meter.add(p, d / steps, i, carrying=False)
    return meter.raw()["path_h_excess"]


def test_a_late_release_corrected_back_is_no_longer_path_but_a_wander_is() -> None:
    """Keys let go 5 cm late on both axes and tapped back (a person on a loaded machine) add nothing;
    a 12 cm excursion sideways and back (the human driver's `wander`) is more than an overshoot."""
    assert _path_h_excess([(0.25, 0.0)]) == 0.0
    late = _path_h_excess([(0.30, 0.0), (-0.05, 0.0), (0.0, 0.20), (0.0, -0.05)])
    assert late == pytest.approx(0.0, abs=1e-9)
    wander = _path_h_excess([(0.0, 0.12), (0.0, -0.12), (0.25, 0.0)])
    assert wander == pytest.approx(0.24 / 0.25)
    assert wander > QualityConfig().half["path"]


def test_raw_metrics_keep_the_report_order() -> None:
    acc = EpisodeAccumulator(QualityConfig())
    for i in range(3):
        state = np.zeros(18)
        state[15:18] = [0.4, 0.0, 0.3 - 0.01 * i]
        acc.add_frame(state, np.zeros(4), contact_force=1.0)
    keys = list(acc.raw_metrics())
    assert keys[: len(REPORT_ORDER)] == list(REPORT_ORDER)
    path = ["path_length_m", "path_h_excess", "path_v_excess", "path"]
    # no lag: no command
    integrity = ["spike_cmd", "telemetry_freeze_s", "missing_frames", "step_jumps", "joint_slip"]
    assert keys[len(REPORT_ORDER) :] == ["look_s", "cruise_speed", *path, *integrity]


def _turning(points: list[list[float]]) -> float:
    meter = TurningMeter(TH["turn_floor"], TH["turn_cap"], TH["turn_jump"])
    for p in points:
        meter.add(np.array(p, dtype=float))
    return meter.value


def test_a_lone_corner_is_not_jitter_but_repeated_turning_is() -> None:
    """Axis by axis (a keyboard: right, then up) turns once; a zigzag turns every frame."""
    corner = [[0.01 * k, 0.0, 0.0] for k in range(10)] + [[0.09, 0.01 * k, 0.0] for k in range(1, 10)]
    assert _turning(corner) == 0.0
    zigzag = [[0.01 * k, 0.004 * (k % 2), 0.0] for k in range(20)]
    assert _turning(zigzag) > 0.1  # 44-degree turns, every frame: all count
    # Gentle bends (a curve, a trembling hand) count on their own, as before.
    curve = [[np.cos(0.15 * k) * 0.1, np.sin(0.15 * k) * 0.1, 0.0] for k in range(20)]
    assert 0.0 < _turning(curve) < 0.02


def test_cruise_is_the_fastest_steady_speed() -> None:
    meter = CrawlMeter(TH, DT)
    for k in range(12):
        meter.add(np.array([0.01 * k, 0.0, 0.0]))  # 0.1 m/s
    assert meter.raw()["cruise_speed"] == pytest.approx(0.1)


def test_a_stalled_sim_does_not_raise_the_cruise() -> None:
    """A loaded machine: one row in six carries 2-9 frames' worth of a keyboard's 0.1 m/s (the sim
    stalled, the key stayed held). The cruise stays the keyboard's, and its steady pace is no crawl."""
    meter = CrawlMeter(TH, DT)
    rng = np.random.default_rng(0)
    x = 0.0
    for k in range(60):
        x += 0.01 * (float(rng.uniform(2, 9)) if k % 6 == 5 else 1.0)
        meter.add(np.array([x, 0.0, 0.0]))
    raw = meter.raw()
    assert raw["cruise_speed"] == pytest.approx(0.1, rel=0.05)
    assert raw["crawl_fraction"] == 0.0
