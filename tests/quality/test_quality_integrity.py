"""The recording-integrity meters (`quality.integrity`) on their own and end to end: each recording
defect is reported under its own name (spike, telemetry_freeze, gap, lag), not as a motion defect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim_teleop.control.defects import EpisodePlan
from sim_teleop.messages import Verdict
from sim_teleop.quality import EpisodeScorer, QualityConfig
from sim_teleop.quality.integrity import (
    CommandSpikeMeter,
    FreezeMeter,
    GapMeter,
    JumpMeter,
    LagMeter,
    Median3,
)
from sim_teleop.sim.env import SimEnv
from sim_teleop_bench.inprocess import Episode, run_episode
from sim_teleop_bench.recording_defects import RECORDING_FAMILIES, damage

TH = QualityConfig().thresholds
DT = 0.1


def test_median3_removes_a_one_frame_spike_and_keeps_a_ramp() -> None:
    m = Median3()
    xs = [np.array([0.01 * i, 0.0, 0.0]) for i in range(6)]
    xs[3] = xs[3] + np.array([0.0, 0.1, 0.0])
    out = [m.add(x) for x in xs]
    assert max(abs(o[1]) for o in out) == 0.0
    assert [round(o[0], 3) for o in out[2:]] == [0.01, 0.02, 0.03, 0.04]  # one frame late, exact


def test_command_spike_is_the_shorter_leg_of_a_reversal() -> None:
    meter = CommandSpikeMeter()
    for step in ([0.01, 0, 0], [0.01, 0, 0], [0.0, 0.08, 0], [0.01, -0.08, 0], [0.01, 0, 0]):
        meter.add(np.array(step))
    assert meter.raw()["spike_cmd"] == pytest.approx(0.08, rel=0.01)
    smooth = CommandSpikeMeter()
    for k in range(20):
        smooth.add(np.array([0.01, 0.002 * np.sin(k), 0.0]))  # turning, never reversing
    assert smooth.raw()["spike_cmd"] == 0.0


def test_freeze_counts_repeats_only_while_the_action_moves() -> None:
    meter = FreezeMeter(DT)
    state = np.arange(5.0)
    for k in range(12):
        moving = k < 6
        s = state if 2 <= k < 6 or k >= 8 else state + k  # repeats at 2..5 (moving) and 8..11 (at rest)
        meter.add(s, np.array([float(k) if moving else 0.0]))
    assert meter.raw()["telemetry_freeze_s"] == pytest.approx(3 * DT)  # frames 3, 4, 5 repeat frame 2


def test_gap_counts_skipped_frame_numbers() -> None:
    meter = GapMeter()
    for i in (0, 1, 2, 5, 6, 6, 9):
        meter.add(i)
    assert meter.raw()["missing_frames"] == 4.0


def test_jump_needs_tcp_and_command_to_move_two_frames_at_once() -> None:
    def run(tcp: list[float], cmd: list[float]) -> int:
        meter = JumpMeter(TH, DT)
        for p, c in zip(tcp, cmd, strict=True):
            meter.add(np.array([p, 0, 0]), np.array([c, 0, 0]))
        return int(meter.raw()["step_jumps"])

    steady = [0.01] * 6
    assert run(steady, steady) == 0
    assert run([0.01, 0.01, 0.02, 0.01, 0.01], [0.01, 0.01, 0.02, 0.01, 0.01]) == 1  # a dropped row
    assert run([0.003, 0.006, 0.009, 0.012], [0.003, 0.006, 0.009, 0.012]) == 0  # a ramp
    assert run([0.0, 0.0, 0.03, 0.01, 0.01], [0.01] * 5) == 0  # only the TCP: a resumed stall


def test_a_tcp_jump_towards_a_standing_command_is_a_gap_except_at_a_grasp() -> None:
    def run(grip_at: int | None) -> int:
        meter = JumpMeter(TH, DT)
        for k, p in enumerate([0.01, 0.01, 0.02, 0.01, 0.01]):
            meter.add(np.array([p, 0, 0]), np.zeros(3), grip_changed=k == grip_at)
        return int(meter.raw()["step_jumps"])

    assert run(None) == 1  # catching up with a command that stands still: two frames in one row
    assert run(0) == 0  # the fingers just closed: the TCP pops up against the table


def test_lag_finds_the_delay_and_flags_a_tcp_ahead_of_its_command() -> None:
    rng = np.random.default_rng(0)
    cmd = rng.normal(size=(80, 3)) * 0.01

    def best(delay: int) -> dict[str, float]:
        meter = LagMeter(TH, DT)
        for t in range(len(cmd)):
            meter.add(cmd[t], cmd[t - delay] if 0 <= t - delay < len(cmd) else np.zeros(3))
        return meter.raw()

    assert best(1) == {"lag_best": 1.0, "lag_frames": 0.0}
    assert best(-2) == {"lag_best": -2.0, "lag_frames": 2.0}  # the TCP moves before its command
    assert best(6)["lag_frames"] == pytest.approx(6 - TH["lag_max_s"] / DT)


@pytest.fixture(scope="module")
def clean_episodes() -> list[Episode]:
    sim = SimEnv(seed=0, image_obs=False)
    try:
        return [
            run_episode(sim, k, EpisodePlan(k), expert_seed=k, operator="human" if k % 2 else "expert")
            for k in range(3)
        ]
    finally:
        sim.close()


def _report(numbered: list, success: bool):  # type: ignore[no-untyped-def]
    scorer = EpisodeScorer(QualityConfig(reference_duration_s=6.0))
    acc = scorer.new_episode()
    for i, f in numbered:
        acc.add_frame(f.state, f.action, f.success, f.contact_force, f.cube_pose, frame=i)
    return scorer.report(0, acc, success=success)


def test_clean_recordings_carry_no_integrity_reason(clean_episodes: list[Episode]) -> None:
    for ep in clean_episodes:
        report = _report(list(enumerate(ep.frames)), ep.success)
        assert report.verdict is Verdict.GOOD, report.reasons
        assert report.metrics["lag_best"] in (1.0, 2.0)


@pytest.mark.parametrize("family", [f for f in RECORDING_FAMILIES if f != "gap"])
def test_each_recording_defect_is_named_first(clean_episodes: list[Episode], family: str) -> None:
    for k, ep in enumerate(clean_episodes):
        report = _report(damage(ep.frames, family, 0.3, np.random.default_rng(k)), ep.success)
        assert report.verdict is Verdict.BAD and report.reasons[0] == family, (k, report.reasons)
        assert "detour" not in report.reasons  # a command spike is not an excursion


def test_dropped_rows_while_moving_are_a_gap_not_a_spike(clean_episodes: list[Episode]) -> None:
    ep = clean_episodes[0]
    moving = next(
        i
        for i in range(10, len(ep.frames))
        if abs(ep.frames[i].action[0] - ep.frames[i - 1].action[0]) > 0.01
    )
    kept = ep.frames[: moving + 1] + ep.frames[moving + 3 :]
    report = _report(list(enumerate(kept)), ep.success)  # numbered on, as LeRobot's writer would
    assert report.reasons == ["gap"] and report.metrics["step_jumps"] >= 1
    numbered = [(i, f) for i, f in enumerate(ep.frames) if not moving < i < moving + 3]
    assert _report(numbered, ep.success).metrics["missing_frames"] == 2.0  # numbers that skip


def test_a_row_dropped_while_the_arm_moves_is_a_gap(clean_episodes: list[Episode]) -> None:
    """Every row dropped where the TCP moved 20 mm or more across the hole is a `gap`: the TCP jump test
    alone missed about half of them (the arm slowing down or speeding up, so the neighbours' steps
    were not much shorter); the joints moved more than their velocities at the hole's ends explain."""
    holes = by_joints = 0
    for ep in clean_episodes:
        n = len(ep.frames)
        for k in range(n // 5, n - n // 5):
            across = np.linalg.norm(ep.frames[k + 1].state[15:18] - ep.frames[k - 1].state[15:18])
            if across < 0.02:
                continue
            report = _report(list(enumerate(ep.frames[:k] + ep.frames[k + 1 :])), ep.success)
            assert "gap" in report.reasons, (k, report.reasons, report.metrics["joint_slip"])
            holes += 1
            by_joints += report.metrics["step_jumps"] == 0.0
    assert holes >= 15 and by_joints >= 5, (holes, by_joints)
    for ep in clean_episodes:  # the untouched episodes stay well under the boundary
        assert _report(list(enumerate(ep.frames)), ep.success).metrics["joint_slip"] < 1.5


def test_a_grasp_pressed_onto_the_table_is_no_hole() -> None:
    """The keyboard model closes the fingers on a cube it pressed onto the table: the contact pushes the
    arm off its controller's course for a step (joint_slip 1.9 there, against the boundary of 2); the
    steps right after a gripper change may leave 1.5 times as much unexplained."""
    sim = SimEnv(seed=0, image_obs=False)
    try:
        ep = run_episode(sim, 200002, EpisodePlan(2), expert_seed=200002, operator="keyboard")
    finally:
        sim.close()
    frames = list(enumerate(ep.frames))
    assert _report(frames, ep.success).metrics["joint_slip"] < 1.4
    th = {**QualityConfig().thresholds, "slip_grip_frames": 0.0}
    scorer = EpisodeScorer(QualityConfig(reference_duration_s=6.0, thresholds=th))
    acc = scorer.new_episode()
    for i, f in frames:
        acc.add_frame(f.state, f.action, f.success, f.contact_force, f.cube_pose, frame=i)
    assert acc.raw_metrics()["joint_slip"] > 1.5  # judged at the grasp, it comes close


def test_offline_timestamps_with_a_hole_are_a_gap(tmp_path: Path) -> None:
    from test_score_foreign import TCP_STATE, make_foreign

    from sim_teleop.dataset.reader import read_info
    from sim_teleop.quality.config import load_quality_config
    from sim_teleop.quality.offline import offline_config, score_dataset

    root = make_foreign(tmp_path / "ds", TCP_STATE, {}, success=True)
    data = next((root / "data").rglob("*.parquet"))
    table = pq.read_table(data)
    ts = table["timestamp"].to_numpy().copy()
    first = table["episode_index"].to_numpy() == 0
    ts[np.flatnonzero(first)[10:]] += 2 / 30  # two frames missing from episode 0
    pq.write_table(table.set_column(table.schema.get_field_index("timestamp"), "timestamp", [ts]), data)
    scorer = EpisodeScorer(offline_config(load_quality_config(None), read_info(root)))
    reports = score_dataset(root, scorer, cameras=False)
    assert reports[0].metrics["missing_frames"] == 2.0 and "gap" in reports[0].reasons
    assert reports[1].metrics["missing_frames"] == 0.0 and "gap" not in reports[1].reasons
