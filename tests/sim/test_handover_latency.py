"""The handover benchmark's arithmetic (sim_teleop_bench.handover_latency) on made-up timelines."""

from __future__ import annotations

import pytest

from sim_teleop_bench.handover_latency import (
    ALREADY_HUMAN,
    NO_FLAG,
    NOT_RUNNING,
    OK,
    ActionSeen,
    FrameSeen,
    Press,
    actions_from_rows,
    frames_from_rows,
    match_press,
    percentile,
    report,
    summarize,
)

TICK = 0.1
DELIVERY = 0.004


def timeline(
    flagged_from: int, n: int = 20, running: bool = True, episode_at: int | None = None
) -> list[FrameSeen]:
    """Frames sent at 10.0 + 0.1 k (tick k), arriving 4 ms later; flagged from tick `flagged_from` on."""
    return [
        FrameSeen(
            t=10.0 + TICK * k + DELIVERY,
            sent=10.0 + TICK * k,
            tick_index=k,
            frame_index=k,
            episode_index=1 if episode_at is not None and k >= episode_at else 0,
            running=running,
            intervention=k >= flagged_from,
        )
        for k in range(n)
    ]


def test_a_press_is_matched_to_the_first_flagged_frame_and_split_into_its_parts() -> None:
    # Key down at 10.53 (between ticks 5 and 6); the keyboard's action leaves at 10.56; tick 6 is flagged.
    press = Press(down=10.53, call_s=0.008, up=10.9, key="Right")
    r = match_press(press, timeline(flagged_from=6), [ActionSeen(t=10.561, sent=10.56)])
    assert r.status == OK
    assert r.tick_index == 6 and r.frame_index == 6
    assert r.latency_ms == pytest.approx(74.0)  # 10.604 - 10.53
    assert r.latency_after_call_ms == pytest.approx(66.0)  # from the end of the 8 ms xdotool call
    assert r.ticks_after_key == 0 and r.ticks_late == 0 and r.ticks_missed == 0
    assert r.key_to_action_ms == pytest.approx(30.0)
    assert r.action_to_frame_ms == pytest.approx(40.0)
    assert r.delivery_ms == pytest.approx(4.0)
    assert r.call_ms == pytest.approx(8.0)


def test_an_action_the_sim_applies_a_tick_late_is_counted_in_sim() -> None:
    # The action left at 10.56, before tick 6 was sent, yet only tick 7 is flagged: one tick late in the sim.
    r = match_press(Press(10.53, 0.005, 10.9), timeline(flagged_from=7), [ActionSeen(10.561, 10.56)])
    assert r.status == OK and r.ticks_late == 1 and r.ticks_after_key == 1
    assert r.latency_ms == pytest.approx(174.0)


def test_ticks_the_sim_skipped_are_told_apart_from_late_ones() -> None:
    # Ticks 6 and 7 never went out (the sim was starved): tick 8 is the first frame after the action.
    frames = [f for f in timeline(flagged_from=8) if f.tick_index not in (6, 7)]
    r = match_press(Press(10.53, 0.005, 10.9), frames, [ActionSeen(10.561, 10.56)])
    assert r.ticks_late == 0 and r.ticks_missed == 2 and r.tick_index == 8
    assert report([r], tick_ms=100.0)["ticks_missed"] == {"2": 1}


def test_a_slow_keyboard_is_late_after_the_key_but_not_in_the_sim() -> None:
    # The keyboard only sent at 10.63 (after tick 6 left): tick 7 is the sim's first chance.
    r = match_press(Press(10.53, 0.005, 10.9), timeline(flagged_from=7), [ActionSeen(10.631, 10.63)])
    assert r.ticks_after_key == 1 and r.ticks_late == 0
    assert r.key_to_action_ms == pytest.approx(100.0)


def test_presses_that_cannot_hand_over_are_left_out_by_status() -> None:
    assert match_press(Press(10.53, 0.005, 10.9), timeline(6, running=False), []).status == NOT_RUNNING
    assert match_press(Press(10.53, 0.005, 10.9), timeline(flagged_from=2), []).status == ALREADY_HUMAN
    assert match_press(Press(10.53, 0.005, 10.9), timeline(flagged_from=99), []).status == NO_FLAG
    assert match_press(Press(9.0, 0.005, 9.2), timeline(6), []).status == NOT_RUNNING  # before any frame
    # The attempt ended and the flag belongs to the next one.
    assert match_press(Press(10.53, 0.005, 10.9), timeline(8, episode_at=8), []).status == NOT_RUNNING


def test_no_action_seen_leaves_the_parts_unknown() -> None:
    r = match_press(Press(10.53, 0.005, 10.9), timeline(flagged_from=6), [])
    assert r.status == OK and r.key_to_action_ms is None and r.ticks_late is None


def test_nearest_rank_percentiles_in_ticks() -> None:
    values = [float(v) for v in range(1, 31)]  # 1..30 ms
    assert percentile(values, 50) == 15.0
    assert percentile(values, 90) == 27.0
    assert percentile(values, 99) == 30.0  # with 30 values p99 is the max
    s = summarize([50.0, 150.0], tick_ms=100.0)
    assert s == {
        "n": 2,
        "p50_ms": 50.0,
        "p50_ticks": 0.5,
        "p90_ms": 150.0,
        "p90_ticks": 1.5,
        "p99_ms": 150.0,
        "p99_ticks": 1.5,
        "max_ms": 150.0,
        "max_ticks": 1.5,
    }
    with pytest.raises(ValueError):
        percentile([], 50)


def test_report_counts_statuses_and_judges_the_target() -> None:
    frames = timeline(flagged_from=6)
    ok = match_press(Press(10.53, 0.005, 10.9), frames, [ActionSeen(10.561, 10.56)])
    skipped = match_press(Press(10.53, 0.005, 10.9), timeline(flagged_from=2), [])
    rep = report([ok, skipped], tick_ms=100.0)
    assert rep["presses"] == 2 and rep["by_status"] == {OK: 1, ALREADY_HUMAN: 1}
    assert rep["latency"]["n"] == 1 and rep["p99_within_one_tick"] is True
    assert rep["ticks_late"] == {"0": 1}
    late = match_press(Press(10.53, 0.005, 10.9), timeline(flagged_from=7), [ActionSeen(10.561, 10.56)])
    assert report([late], tick_ms=100.0)["p99_within_one_tick"] is False
    assert report([skipped], tick_ms=100.0)["p99_within_one_tick"] is False  # nothing measured


def test_probe_rows_are_read_back() -> None:
    rows = [
        {"kind": "action", "t": 1.0, "sent": 0.99, "warm_up": True},
        {"kind": "action", "t": 2.0, "sent": 1.99, "warm_up": False},
        {
            "kind": "frame",
            "t": 2.1,
            "sent": 2.09,
            "tick_index": 3,
            "frame_index": 2,
            "episode_index": 0,
            "phase": "running",
            "end_reason": "",
            "intervention": True,
        },
        {
            "kind": "frame",
            "t": 2.2,
            "sent": None,
            "tick_index": 4,
            "frame_index": 0,
            "episode_index": 0,
            "phase": "done",
            "end_reason": "success",
            "intervention": False,
        },
    ]
    assert actions_from_rows(rows) == [ActionSeen(2.0, 1.99)]
    frames = frames_from_rows(rows)
    assert [f.running for f in frames] == [True, False] and frames[0].intervention and frames[1].sent is None
