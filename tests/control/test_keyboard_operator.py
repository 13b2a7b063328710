"""The keyboard operator model, and the scorer judging its clean demonstrations `good`.

A keyboard moves the target at a fixed speed along one axis per held key: bang-bang, axis by axis, late
releases and corrective taps. The scorer must judge crawling against the episode's own pace instead of
calling every keyboard demonstration slow, and must not read a corner between two keys as jitter.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scoring import score_in_order

from sim_teleop.autopilot.session import AutopilotConfig, run_in_process
from sim_teleop.control.defects import EpisodePlan, plan_for_episode
from sim_teleop.control.keyboard_operator import KeyboardOperator, KeyboardParams
from sim_teleop.control.teleop import SPEED
from sim_teleop.messages import Phase, Verdict
from sim_teleop.quality import EpisodeScorer, QualityConfig
from sim_teleop.sim.env import SimEnv
from sim_teleop_bench.inprocess import Episode, run_episode, single_family_config


@pytest.fixture(scope="module")
def keyboard_episodes() -> list[Episode]:
    sim = SimEnv(seed=0, image_obs=False)
    try:
        return [
            run_episode(
                sim, 7000 + k, EpisodePlan(k), expert_seed=7000 + k, operator="keyboard", max_steps=300
            )
            for k in range(6)
        ]
    finally:
        sim.close()


def test_the_keys_move_the_target_at_the_keyboard_speed() -> None:
    """Through `KeyboardTeleop`: at most SPEED x dt an axis a frame, reached and held, gripper 0 or 1."""
    op = KeyboardOperator(KeyboardParams(reaction=1, one_axis=True), seed=0, attempt=0)
    goal = np.array([0.1, -0.05, 0.0, 0.0])
    closed = np.array([0.1, -0.05, 0.0, 1.0])
    actions = np.array([op.follow(goal if k < 30 else closed) for k in range(40)])
    steps = np.abs(np.diff(actions[:, :3], axis=0))
    assert steps.max() <= SPEED * 0.1 + 1e-6
    assert np.isclose(steps, SPEED * 0.1, atol=1e-6).sum() > 10  # mostly full-speed frames
    assert ((steps > 1e-6).sum(axis=1) <= 1).all()  # one arrow key at a time
    assert np.abs(actions[-1, :3] - goal[:3]).max() <= op.params.dead_band_m + 1e-6
    assert np.count_nonzero(np.diff(actions[:, 3])) == 1 and set(np.unique(actions[:, 3])) == {0.0, 1.0}


def test_the_typist_looks_before_the_first_descent() -> None:
    """Over the goal, keys up for `look_s` before the first Shift press down; then down it goes."""
    look = 1.0
    op = KeyboardOperator(KeyboardParams(reaction=1, look_s=look), seed=0, attempt=0)
    goal = np.array([0.005, 0.0, -0.08, 0.0])
    actions = np.array([op.follow(goal) for _ in range(40)])
    z_moves = np.flatnonzero(np.abs(np.diff(actions[:, 2])) > 1e-6)
    assert z_moves.size and z_moves[0] + 1 >= look / 0.1  # nothing down before the look is over
    assert actions[-1, 2] == pytest.approx(goal[2], abs=op.params.dead_band_m + 1e-6)


def test_the_typists_of_a_session_differ() -> None:
    """One draw per attempt, spanning the ranges people show (reaction 0.2-0.8 s, overshoot to 4 cm)."""
    typists = [KeyboardParams.sample(0, attempt) for attempt in range(60)]
    assert {t.reaction for t in typists} == set(range(2, 9))
    assert max(t.release_late[1] for t in typists) * SPEED > 0.03
    assert min(t.look_s for t in typists) < 0.5 < 1.2 < max(t.look_s for t in typists)
    assert 5 < sum(t.hesitate_s > 0 for t in typists) < 40
    assert 10 < sum(t.one_axis for t in typists) < 55


def test_keyboard_demonstrations_succeed_and_are_good(keyboard_episodes: list[Episode]) -> None:
    assert all(ep.success for ep in keyboard_episodes)
    reports = score_in_order(EpisodeScorer(QualityConfig()), keyboard_episodes)
    assert [r.verdict for r in reports] == [Verdict.GOOD] * 6, [r.reasons for r in reports]
    assert all(r.metrics["cruise_speed"] < 0.15 for r in reports)  # slower than the expert's 0.18


def test_a_fixed_crawl_speed_would_reject_keyboard_demonstrations(keyboard_episodes: list[Episode]) -> None:
    """What the episode's own cruise is for: against the fixed 0.105 m/s, the keyboard's 0.1 m/s crawls."""
    cfg = QualityConfig()
    fixed = replace(cfg, thresholds={**cfg.thresholds, "crawl_ratio": float("inf")})
    reports = score_in_order(EpisodeScorer(fixed), keyboard_episodes)
    assert sum("slow" in r.reasons for r in reports) >= 5, [r.reasons for r in reports]


def test_a_slow_defect_is_still_caught_after_keyboard_episodes(keyboard_episodes: list[Episode]) -> None:
    """A keyboard demonstration slowed to well below the keyboard's own pace stays `slow`."""
    scorer = EpisodeScorer(QualityConfig())
    score_in_order(scorer, keyboard_episodes)
    sim = SimEnv(seed=0, image_obs=False)
    try:
        plan = plan_for_episode(single_family_config("slow", 1.0, seed=0), 0, 1000)
        ep = run_episode(
            sim, 7100, plan, expert_seed=7100, defects_seed=0, operator="keyboard", max_steps=300
        )
    finally:
        sim.close()
    (report,) = score_in_order(scorer, [ep])
    assert report.verdict is Verdict.BAD and "slow" in report.reasons, report.reasons


def test_the_autopilot_node_logic_drives_through_the_keyboard(monkeypatch: pytest.MonkeyPatch) -> None:
    """`AUTOPILOT_OPERATOR=keyboard` in a dataflow: the session's attempts move axis by axis."""
    monkeypatch.setenv("AUTOPILOT_OPERATOR", "keyboard")
    cfg = AutopilotConfig.load()
    frames: list = []
    session = run_in_process(2, seed=3, operator=cfg.operator, on_frame=frames.append)
    assert [r.success for r in session.results] == [True, True]
    actions = np.array([f.action[:3] for f in frames if f.phase is Phase.RUNNING and f.episode_index == 0])
    steps = np.abs(np.diff(actions, axis=0))
    assert steps.max() <= SPEED * 0.1 + 1e-6
