"""Each metric on synthetic trajectories with known answers: a clean pick scores high, the same pick with
one injected defect scores low on exactly the matching metric."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from sim_teleop.messages import Verdict
from sim_teleop.quality import EpisodeScorer, QualityConfig, subscore
from sim_teleop.quality.scorer import MOTION, RunningReference, aggregate

FPS = 10
START = np.array([0.40, 0.00, 0.30])
ABOVE = np.array([0.48, 0.08, 0.15])
GRASP = np.array([0.48, 0.08, 0.03])
LIFT = np.array([0.48, 0.08, 0.16])


def _segment(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """n points from a (exclusive) to b (inclusive), smooth (cosine) speed profile."""
    s = (1 - np.cos(np.linspace(0, np.pi, n + 1)[1:])) / 2
    return a + (b - a) * s[:, None]


def clean_pick() -> dict[str, np.ndarray]:
    """TCP path start -> above cube -> grasp -> (close 3 frames) -> lift; gripper 0 then 1; cube follows."""
    tcp = np.concatenate(
        [
            START[None],
            _segment(START, ABOVE, 12),
            _segment(ABOVE, GRASP, 8),
            np.repeat(GRASP[None], 3, 0),
            _segment(GRASP, LIFT, 10),
        ]
    )
    n = len(tcp)
    close_at = 1 + 12 + 8
    grip = (np.arange(n) >= close_at).astype(np.float64)
    cube = np.repeat(np.array([[0.48, 0.08, 0.02]]), n, 0)
    lifting = np.arange(n) >= close_at + 3
    cube[lifting, 2] = tcp[lifting, 2] - 0.01
    return {"tcp": tcp, "grip": grip, "cube": cube, "force": np.zeros(n)}


def score(
    ep: dict[str, np.ndarray],
    config: QualityConfig | None = None,
    success: bool = True,
    scorer: EpisodeScorer | None = None,
    index: int = 0,
):
    cfg = config or QualityConfig()
    scorer = scorer or EpisodeScorer(cfg)
    acc = scorer.new_episode()
    n = len(ep["tcp"])
    for i in range(n):
        state = np.zeros(18, np.float32)
        state[15:18] = ep["tcp"][i]
        state[14] = ep["grip"][i]
        action = np.zeros(4, np.float32)
        action[:3] = ep.get("cmd", ep["tcp"])[i] - ep["tcp"][0]
        action[3] = ep["grip"][i]
        cube = np.concatenate([ep["cube"][i], [1, 0, 0, 0]])
        acc.add_frame(
            state, action, success=success and i == n - 1, contact_force=float(ep["force"][i]), cube_pose=cube
        )
    return scorer.report(index, acc, success=success)


def low_only(report, *metrics: str) -> None:
    """Each of `metrics` is below the bad boundary and every other motion sub-score stays high."""
    for metric in metrics:
        assert report.subscores[metric] < 0.5, (metric, report.subscores)
        assert metric in report.reasons
    for other in MOTION:
        if other not in metrics:
            assert report.subscores[other] > 0.8, (metrics, other, report.subscores)
    assert report.verdict is Verdict.BAD


def test_subscore_mapping() -> None:
    assert subscore(0.0, 1.0, 2.0) == 1.0
    assert subscore(1.0, 1.0, 2.0) == pytest.approx(0.5)
    assert subscore(2.0, 1.0, 2.0) == pytest.approx(2**-4)
    assert subscore(float("nan"), 1.0, 2.0) == 0.0
    xs = np.linspace(0, 5, 50)
    assert np.all(np.diff([subscore(x, 1.0, 2.0) for x in xs]) < 0)


def test_aggregate_is_weighted_geometric_mean() -> None:
    assert aggregate({"a": 0.25, "b": 1.0}, {"a": 1.0, "b": 1.0}) == pytest.approx(0.5)
    assert aggregate({"a": 0.25, "b": 1.0}, {"a": 3.0, "b": 1.0}) == pytest.approx(0.25**0.75)
    # A camera key takes its metric's weight; a zero sub-score sinks the aggregate.
    assert aggregate({"front.dark": 0.0, "jitter": 1.0}, {"dark": 1.0, "jitter": 1.0}) < 1e-4


def test_clean_pick_scores_high() -> None:
    report = score(clean_pick())
    assert report.verdict is Verdict.GOOD, report
    assert report.reasons == []
    assert report.score > 0.9
    assert min(report.subscores.values()) > 0.8


def test_failure_is_a_gate() -> None:
    report = score(clean_pick(), success=False)
    assert report.verdict is Verdict.BAD
    assert report.reasons[0] == "failed"
    assert report.score == pytest.approx(score(clean_pick()).score * QualityConfig().failure_factor, rel=1e-4)


def test_jitter() -> None:
    ep = clean_pick()
    rng = np.random.default_rng(1)
    ep["cmd"] = ep["tcp"].copy()  # a smooth command, a shaking arm
    ep["tcp"] = ep["tcp"] + rng.normal(0, 0.002, ep["tcp"].shape)
    low_only(score(ep), "jitter")


def test_pause() -> None:
    ep = clean_pick()
    k = 13  # hold still above the cube for 3 s
    for key in ("tcp", "grip", "cube", "force"):
        ep[key] = np.concatenate([ep[key][:k], np.repeat(ep[key][k : k + 1], 30, 0), ep[key][k:]])
    report = score(ep)
    assert report.metrics["idle_pause_s"] >= 3.0
    # A pause also lengthens the episode; judged against the same reference it is also slow, so compare
    # the idle metric with a reference long enough to leave `slow` out.
    report = score(ep, QualityConfig(reference_duration_s=report.metrics["duration_s"]))
    low_only(report, "idle")


def test_spike_from_contact_force() -> None:
    ep = clean_pick()
    ep["force"][20] = 400.0  # a hard collision with the table
    low_only(score(ep), "spike")


def test_spike_from_position_jump() -> None:
    ep = clean_pick()
    ep["tcp"][8] = ep["tcp"][8] + np.array([0.0, 0.0, 0.08])  # one frame 8 cm off (the arm does 4 cm)
    report = score(ep)
    assert report.subscores["spike"] < 0.5
    assert report.reasons == ["spike"]  # an isolated jump is not jitter, and no dropped frame


def test_gripper_chatter() -> None:
    ep = clean_pick()
    ep["grip"][5:11] = [1, 0, 1, 0, 1, 0]  # open/close bursts on the way to the cube
    low_only(score(ep), "gripper_chatter")


def test_drop_from_cube_pose_and_from_release() -> None:
    ep = clean_pick()
    n = len(ep["tcp"])
    ep["cube"][n - 4 :, 2] = 0.02  # the held cube falls back to the table
    report = score(ep, success=True)
    assert report.metrics["drop_cube_fall"] > 0.08
    assert report.subscores["drop"] < 0.5
    # Without the privileged cube pose: the gripper opening while lifted tells the same story.
    ep = clean_pick()
    ep["grip"][n - 3 :] = 0.0
    ep["cube"][:] = np.nan
    report = score(ep)
    assert report.metrics["drop_release_lift"] > 0.05
    assert report.subscores["drop"] < 0.5


def test_path_detour() -> None:
    ep = clean_pick()
    side = np.array([0.40, 0.28, 0.20])
    ep["tcp"] = np.concatenate(
        [START[None], _segment(START, side, 12), _segment(side, ABOVE, 12), ep["tcp"][13:]]
    )
    n = len(ep["tcp"])
    ep["grip"] = np.concatenate([np.zeros(25), ep["grip"][13:]])[:n]
    ep["cube"] = np.concatenate([np.repeat(ep["cube"][:1], 12, 0), ep["cube"]])[:n]
    ep["force"] = np.zeros(n)
    report = score(ep, QualityConfig(reference_duration_s=n / FPS))
    # Out sideways by 28 cm and 20 cm back in one movement: retraced, and a longer path (the
    # tremor filter trails the command by its radius, so the turn costs 2 radii of the 20 cm).
    play = QualityConfig().thresholds["play"]
    assert 0.20 - 2 * play - 0.005 <= report.metrics["detour"] <= 0.20
    low_only(report, "detour", "path")


def _approach_via(corner: np.ndarray, hold: int) -> dict[str, np.ndarray]:
    """The clean pick, but reaching the point above the cube via `corner`, standing there `hold` frames."""
    ep = clean_pick()
    head = [
        START[None],
        _segment(START, corner, 8),
        np.repeat(corner[None], hold, 0),
        _segment(corner, ABOVE, 14),
    ]
    tcp = np.concatenate([*head, ep["tcp"][13:]])
    extra = len(tcp) - len(ep["tcp"])
    ep["tcp"] = tcp
    ep["grip"] = np.concatenate([np.zeros(extra), ep["grip"]])
    ep["cube"] = np.concatenate([np.repeat(ep["cube"][:1], extra, 0), ep["cube"]])
    ep["force"] = np.zeros(len(tcp))
    return ep


def test_detour_is_retraced_motion_not_a_turn() -> None:
    """Only motion that goes out and comes back within one movement is a detour."""
    cfg = QualityConfig(reference_duration_s=6.0)
    # An L-shaped reach (every axis monotonic) retraces nothing, stopping at the corner or not.
    corner = np.array([START[0], ABOVE[1], 0.25])
    for hold in (0, 5):
        assert score(_approach_via(corner, hold), cfg).metrics["detour"] == pytest.approx(0.0, abs=1e-6)
    # Out 10 cm sideways and straight back: the far end is a turn inside the movement (the tremor
    # filter trails the command by its radius, so the turn costs 2 radii of the 10 cm).
    side = START + np.array([0.0, -0.10, 0.0])
    report = score(_approach_via(side, 0), cfg)
    assert 0.10 - 2 * cfg.thresholds["play"] - 0.001 <= report.metrics["detour"] <= 0.10
    assert report.subscores["detour"] < 0.5 and report.reasons == ["detour"]
    assert 0.5 < report.subscores["path"] < 0.8  # 20 cm extra: longer, but within a human's corrections
    # Standing there for half a second first makes it two movements: a waypoint, not an excursion
    # (its extra length is still the path metric's business).
    assert score(_approach_via(side, 5), cfg).metrics["detour"] == pytest.approx(0.0, abs=1e-6)


def test_reach_down_then_lift_is_not_a_detour() -> None:
    """Closing the gripper separates the descent from the lift even without a standstill."""
    ep = clean_pick()
    keep = np.ones(len(ep["tcp"]), bool)
    close_at = 1 + 12 + 8
    keep[close_at : close_at + 3] = False  # no standstill at the grasp
    ep = {k: v[keep] for k, v in ep.items()}
    report = score(ep)
    assert report.metrics["detour"] == pytest.approx(0.0, abs=1e-6)
    assert report.subscores["detour"] == 1.0


def test_slow_against_running_reference() -> None:
    cfg = QualityConfig(reference_duration_s=3.4)
    scorer = EpisodeScorer(cfg)
    assert scorer.reference.value == pytest.approx(3.4)
    # Clean episodes of the reference length teach the session's pace; one 3x as long is then slow.
    ep = clean_pick()
    for k in range(3):
        assert "slow" not in score(ep, cfg, scorer=scorer, index=k).reasons
    slow = {k: np.repeat(v, 3, 0) for k, v in ep.items()}
    report = score(slow, cfg, scorer=scorer, index=3)
    assert report.subscores["slow"] < 0.5 and "slow" in report.reasons


def test_first_episode_of_a_slower_operator_is_not_slow() -> None:
    """No reference yet for this operator: the first episode, 2.5x the prior, votes for itself."""
    cfg = QualityConfig(reference_duration_s=3.4)
    slow = {k: np.repeat(v, 5, 0)[::2] for k, v in clean_pick().items()}
    report = score(slow, cfg)
    assert report.metrics["duration_s"] == pytest.approx(2.5 * 3.4, abs=0.1)
    assert "slow" not in report.reasons


def test_a_persons_early_episodes_are_not_judged_by_the_experts_pace() -> None:
    """A human-driver keyboard session (durations as recorded, 2026-12-07): its third episode, 13.8 s
    after 6.7 and 8.8 s, was `slow` against the expert's 4.3 s as one vote (reference 7.75 s, 78 % over
    against the boundary's 60 %); the prior now votes for any pace up to 3x the expert's. Once the session
    has its own pace, an episode three times as long as it is slow."""
    half = QualityConfig().half["slow"]
    ref = RunningReference(4.3, window=25)
    for duration in (6.7, 8.8):
        assert duration / ref.judging(duration) - 1 < half
        ref.update(duration)
    assert 13.8 / ref.judging(13.8) - 1 < half
    assert 13.8 / statistics.median([4.3, 6.7, 8.8, 13.8]) - 1 > half  # the expert's duration as a vote
    for duration in (13.8, 10.9, 8.5, 12.0, 10.5):
        ref.update(duration)
    assert 30.0 / ref.judging(30.0) - 1 > 2 * half
    assert 4.3 / ref.judging(4.3) - 1 < 0  # faster than the session is never slow


def stretched(ep: dict[str, np.ndarray], factor: int) -> dict[str, np.ndarray]:
    """The same motion `factor` times slower (interpolated: it moves on every frame)."""
    n = len(ep["tcp"])
    t = np.linspace(0, n - 1, factor * n)
    out = {}
    for key, value in ep.items():
        arr = np.asarray(value, dtype=np.float64).reshape(n, -1)
        cols = [np.interp(t, np.arange(n), arr[:, j]) for j in range(arr.shape[1])]
        out[key] = np.stack(cols, axis=1).reshape((len(t), *np.shape(value)[1:]))
    out["grip"] = (out["grip"] >= 0.5).astype(np.float64)
    return out


def test_a_task_of_unknown_pace_learns_it_from_its_own_episodes() -> None:
    """Another dataset (no prior, no success column): every episode teaches the pace, none is slow for
    being longer than the pick-cube expert; one 3x as long as the others is."""
    cfg = QualityConfig(reference_duration_s=0.0, success_gate=False)
    scorer = EpisodeScorer(cfg)
    long = stretched(clean_pick(), 2)  # ~7 s
    for k in range(3):
        report = score(long, cfg, success=False, scorer=scorer, index=k)
        assert report.reasons == [], report.subscores
    slower = stretched(long, 3)
    report = score(slower, cfg, success=False, scorer=scorer, index=3)
    assert "slow" in report.reasons, report.subscores


def test_saturation() -> None:
    ep = clean_pick()
    ep["cmd"] = ep["tcp"].copy()
    ep["cmd"][2:20, 1] = ep["tcp"][0, 1] + 0.35  # commanding the limit for 18 frames
    report = score(ep)
    assert report.subscores["saturation"] < 0.5


def test_other_dataset_layout() -> None:
    """A 6-D state (xyz first, then gripper 0..100) and a 7-D action: the layout comes from config."""
    from sim_teleop.quality.config import SignalLayout

    layout = SignalLayout(
        tcp=(0, 1, 2),
        state_gripper=3,
        state_gripper_max=100.0,
        action_xyz=(0, 1, 2),
        action_gripper=None,
        action_xyz_limit=None,
        workspace_low=None,
        workspace_high=None,
    )
    cfg = QualityConfig(layout=layout, cameras=())
    scorer = EpisodeScorer(cfg)
    acc = scorer.new_episode()
    ep = clean_pick()
    for i in range(len(ep["tcp"])):
        state = np.concatenate([ep["tcp"][i], [ep["grip"][i] * 100, 0, 0]])
        action = np.concatenate([ep["tcp"][i], np.zeros(4)])
        acc.add_frame(state, action, success=i == len(ep["tcp"]) - 1)
    report = scorer.report(0, acc)
    assert report.verdict is Verdict.GOOD, report


def test_offline_config_needs_more_motion_before_a_repeated_decoded_frame_is_frozen() -> None:
    from sim_teleop.quality.config import QualityConfig
    from sim_teleop.quality.offline import OFFLINE_FAR_DIFF, OFFLINE_FROZEN_MOTION, offline_config

    live = QualityConfig()
    offline = offline_config(live)
    assert offline.thresholds["frozen_motion"] == OFFLINE_FROZEN_MOTION > live.thresholds["frozen_motion"]
    # decoded images of one stuck frame still differ a little (rate control); rendered ones do not
    assert offline.thresholds["frozen_far_diff"] == OFFLINE_FAR_DIFF > live.thresholds["frozen_far_diff"]
    changed = ("frozen_motion", "frozen_far_diff", "frozen_far_motion", "frozen_far_texture")
    assert {k: v for k, v in offline.thresholds.items() if k not in changed} == {
        k: v for k, v in live.thresholds.items() if k not in changed
    }
    assert live.thresholds["frozen_motion"] < OFFLINE_FROZEN_MOTION  # the live config is untouched
