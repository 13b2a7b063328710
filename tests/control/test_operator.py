"""The human operator model, and the scorer judging its clean demonstrations `good`.

A person's hand trembles, drifts, reacts late and hesitates; none of that is a defect. These tests run
the scripted expert through `HumanOperator` in-process (physics only) and score what it recorded.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scoring import score_in_order

from sim_teleop.autopilot.session import AutopilotConfig, run_in_process
from sim_teleop.control.defects import EpisodePlan, plan_for_episode
from sim_teleop.control.operator import HandNoise, Hesitation, OperatorParams
from sim_teleop.messages import Phase, Verdict
from sim_teleop.quality import EpisodeScorer, QualityConfig
from sim_teleop.sim.env import SimEnv
from sim_teleop_bench.inprocess import Episode, run_episode, single_family_config

HUMAN_PACE_S = 6.2
"""The human model's median episode length: the scorer's running reference reaches it after a few
episodes; a fresh scorer starts from the expert's 4.3 s, so the tests give it the human pace."""


def test_params_are_reproducible_and_millimetre_sized() -> None:
    assert OperatorParams.sample(3, 7) == OperatorParams.sample(3, 7)
    drawn = [OperatorParams.sample(0, i) for i in range(50)]
    assert len({p.tremor_hz for p in drawn}) == 50
    assert all(p.tremor_m <= 0.001 and p.noise_m <= 0.0015 and p.overshoot_m <= 0.02 for p in drawn)


def test_hand_noise_has_the_drawn_size() -> None:
    params = OperatorParams(tremor_m=0.0, noise_m=0.001, noise_tau=3.0)
    noise = HandNoise(params, np.random.default_rng(0))
    samples = np.array([noise.next() for _ in range(4000)])
    assert np.sqrt(np.mean(samples**2)) == pytest.approx(0.001, rel=0.15)
    steps = np.abs(np.diff(samples, axis=0))
    assert steps.mean() < 0.001  # low-pass: it drifts, it does not jump
    tremor = HandNoise(OperatorParams(tremor_m=0.001, tremor_hz=3.0), np.random.default_rng(0))
    assert np.abs([tremor.next() for _ in range(100)]).max() == pytest.approx(0.001, rel=0.05)


def test_hesitation_waits_the_reaction_time_or_longer() -> None:
    waits = []
    h = Hesitation(OperatorParams(reaction=2, hesitation_p=0.5, hesitation=(3, 5)), np.random.default_rng(1))
    for _ in range(200):
        h.on_stage_change()
        n = 0
        while h.waiting():
            n += 1
        waits.append(n)
    assert set(waits) <= {2, 3, 4, 5} and waits.count(2) > 50 and max(waits) == 5


@pytest.fixture(scope="module")
def human_episodes() -> list[Episode]:
    sim = SimEnv(seed=0, image_obs=False)
    try:
        return [run_episode(sim, k, EpisodePlan(k), expert_seed=k, operator="human") for k in range(4)]
    finally:
        sim.close()


def _score(episodes: list[Episode], config: QualityConfig) -> list:
    return score_in_order(EpisodeScorer(config), episodes)


def test_human_clean_demonstrations_succeed_and_are_good(human_episodes: list[Episode]) -> None:
    assert all(ep.success for ep in human_episodes)
    commands = np.array([f.action[:3] for f in human_episodes[0].frames])
    assert np.abs(np.diff(commands[:3], axis=0)).max() > 0.0002  # the hand trembles before it moves
    reports = _score(human_episodes, QualityConfig(reference_duration_s=HUMAN_PACE_S))
    assert [r.verdict for r in reports] == [Verdict.GOOD] * len(reports), [r.reasons for r in reports]


def test_without_the_tremor_filter_the_same_demonstrations_are_rejected(
    human_episodes: list[Episode],
) -> None:
    """What the tremor filter is for: with it off, the hand's noise reads as jitter and crawling."""
    cfg = QualityConfig(reference_duration_s=HUMAN_PACE_S)
    raw = dataclasses.replace(cfg, thresholds={**cfg.thresholds, "play": 0.0})
    reports = _score(human_episodes, raw)
    assert sum(r.verdict is Verdict.BAD for r in reports) >= len(reports) // 2
    assert {"jitter", "slow", "detour", "idle"} & {x for r in reports for x in r.reasons}


@pytest.mark.parametrize(
    ("family", "reason"), [("pause", "idle"), ("jitter", "jitter"), ("detour", "detour")]
)
def test_defects_on_a_human_demonstration_are_still_caught(family: str, reason: str) -> None:
    sim = SimEnv(seed=0, image_obs=False)
    try:
        plan = plan_for_episode(single_family_config(family, 0.3, seed=0), 0, 1000)
        ep = run_episode(sim, 7, plan, expert_seed=7, operator="human")
    finally:
        sim.close()
    (report,) = _score([ep], QualityConfig(reference_duration_s=HUMAN_PACE_S))
    assert report.verdict is Verdict.BAD and reason in report.reasons, report.reasons


def test_the_autopilot_node_logic_drives_through_the_operator() -> None:
    """`AUTOPILOT_OPERATOR=human` in a dataflow: the session's attempts carry the hand's tremor."""
    frames: list = []
    session = run_in_process(2, seed=3, operator="human", on_frame=frames.append)
    assert [r.success for r in session.results] == [True, True]
    actions = np.array([f.action[:3] for f in _first_two(frames)])
    assert np.abs(actions).max() > 0.0001  # the expert stands still here; the hand does not
    expert_only: list = []
    run_in_process(1, seed=3, on_frame=expert_only.append)
    assert not np.array([f.action[:3] for f in _first_two(expert_only)]).any()


def _first_two(frames: list) -> list:
    """The first two running frames of the first attempt: the expert waits at least that long."""
    return [f for f in frames if f.phase is Phase.RUNNING and f.episode_index == 0 and f.frame_index < 2]


def test_operator_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPILOT_OPERATOR", "human")
    assert AutopilotConfig.load().operator == "human"
    monkeypatch.setenv("AUTOPILOT_OPERATOR", "robot")
    with pytest.raises(Exception, match="robot"):
        AutopilotConfig.load()
