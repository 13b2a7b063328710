"""The expert's trajectories against the real physics, stepped in-process with the dataflow's one-frame
latency (SimEnv, image_obs=False): success, smoothness, reproducibility, and each motion defect's effect."""

from __future__ import annotations

import numpy as np
import pytest

from sim_teleop.autopilot.session import run_in_process
from sim_teleop.control.defects import DROP_OPEN_FRAMES, DefectConfig, plan_for_episode
from sim_teleop.messages import STATE_GRIPPER, STATE_TCP, Frame, Phase
from sim_teleop.sim.env import MAX_STEP


def _collect(frames: list[Frame]):
    def on_frame(f: Frame) -> None:
        if f.phase is Phase.RUNNING:
            frames.append(f)

    return on_frame


def _episode(frames: list[Frame], index: int) -> list[Frame]:
    return [f for f in frames if f.episode_index == index]


@pytest.mark.parametrize("seed", [0, 7])
def test_expert_picks_the_cube_at_random_placements(seed: int) -> None:
    frames: list[Frame] = []
    session = run_in_process(4, seed=seed, sim_seed=seed, on_frame=_collect(frames))
    results = session.results
    assert len(results) == 4
    assert all(r.success for r in results), [(r.episode_index, r.end_reason, r.steps) for r in results]
    cubes = {tuple(np.round(_episode(frames, r.episode_index)[0].cube_pose[:2], 3)) for r in results}
    assert len(cubes) == 4  # a new random placement every episode
    steps = [r.steps for r in results]
    assert len(set(steps)) > 1 and max(steps) < 120  # varied, and well inside the 200-frame limit
    for r in results:
        ep = _episode(frames, r.episode_index)
        actions = np.array([f.action for f in ep])
        assert np.linalg.norm(np.diff(actions[:, :3], axis=0), axis=1).max() <= MAX_STEP
        assert set(np.unique(actions[:, 3])) <= {0.0, 1.0}
        assert ep[-1].success and ep[-1].cube_pose[2] > ep[0].cube_pose[2] + 0.09


def test_same_seed_same_demonstration() -> None:
    runs = []
    for _ in range(2):
        frames: list[Frame] = []
        run_in_process(1, seed=3, sim_seed=3, on_frame=_collect(frames))
        runs.append(np.array([f.action for f in frames]))
    np.testing.assert_array_equal(runs[0], runs[1])
    other: list[Frame] = []
    run_in_process(1, seed=4, sim_seed=3, on_frame=_collect(other))
    assert not np.array_equal(np.array([f.action for f in other]), runs[0][: len(other)])


def _only(family: str) -> DefectConfig:
    return DefectConfig.from_dict({"probability": 1.0, "families": [family], "severity": [0.8, 0.8]})


def _run_with(family: str) -> tuple[list[Frame], dict]:
    frames: list[Frame] = []
    session = run_in_process(1, seed=1, sim_seed=1, defects=_only(family), on_frame=_collect(frames))
    assert session.results[0].success, f"{family}: {session.results[0]}"
    defect = plan_for_episode(_only(family), 0, 0).annotation()["defects"][0]
    assert session.results[0].defects == [defect]
    return frames, defect


def test_pause_defect_stops_the_arm() -> None:
    frames, d = _run_with("pause")
    actions = np.array([f.action for f in frames])
    # A frame's action is the command the expert sent for the previous frame, and the pause starts
    # `start` frames after the expert's first move.
    moved = int(np.flatnonzero(np.abs(actions[:, :3] - actions[0, :3]).max(axis=1) > 0)[0])
    begin = moved + d["start"]
    held = actions[begin : begin + d["duration"]]
    assert len(held) == d["duration"] and np.all(held == held[0])
    assert not np.all(actions[begin + d["duration"]] == held[0])  # and it ends
    tcp = np.array([f.state[STATE_TCP] for f in frames])
    late = tcp[begin + 3 : begin + d["duration"] - 1]
    assert np.abs(np.diff(late, axis=0)).max() < 0.002  # no motion once the arm settled


def test_drop_defect_drops_the_cube_and_the_expert_picks_it_again() -> None:
    frames, _d = _run_with("drop")
    grip = np.array([f.state[STATE_GRIPPER] for f in frames])
    cube_z = np.array([f.cube_pose[2] for f in frames])
    closes = np.flatnonzero((grip[1:] > 0.5) & (grip[:-1] <= 0.5))
    assert len(closes) == 2, "closes once, drops, closes again"
    between = cube_z[closes[0] : closes[1]]
    assert between.max() > cube_z[0] + 0.015 and between[-1] < cube_z[0] + 0.005  # lifted, then fell
    opened = np.flatnonzero((grip[1:] <= 0.5) & (grip[:-1] > 0.5))
    assert len(opened) == 1 and np.all(grip[opened[0] + 1 : opened[0] + 1 + DROP_OPEN_FRAMES] == 0)


def test_chatter_defect_toggles_the_gripper_before_the_grasp() -> None:
    frames, d = _run_with("chatter")
    grip = np.array([f.state[STATE_GRIPPER] for f in frames])
    window = grip[d["start"] + 1 : d["start"] + d["duration"] + 1]
    assert np.count_nonzero(np.abs(np.diff(window)) > 0.5) >= d["duration"] - 2
    cube_z = np.array([f.cube_pose[2] for f in frames])
    assert np.all(cube_z[: d["start"] + d["duration"] + 1] < cube_z[0] + 0.002)  # cube untouched meanwhile


def test_detour_and_slow_defects_bend_and_stretch_the_path() -> None:
    clean: list[Frame] = []
    run_in_process(1, seed=1, sim_seed=1, on_frame=_collect(clean))
    detour, d = _run_with("detour")
    slow, _ = _run_with("slow")
    assert len(slow) > len(clean) + 5
    tcp_clean = np.array([f.state[STATE_TCP] for f in clean])
    tcp_detour = np.array([f.state[STATE_TCP] for f in detour])
    np.testing.assert_allclose(tcp_detour[: d["start"] + 1], tcp_clean[: d["start"] + 1], atol=1e-6)
    window = slice(d["start"] + 1, d["start"] + d["duration"] + 2)
    apart = np.linalg.norm(tcp_detour[window] - tcp_clean[window], axis=1)
    assert apart.max() > 0.05  # the commanded bump is ~0.1 m at severity 0.8
    assert np.all(tcp_detour[window, 2] >= tcp_clean[window, 2] - 0.005)  # out and up, never down


def test_jitter_defect_shakes_the_commands() -> None:
    clean: list[Frame] = []
    run_in_process(1, seed=1, sim_seed=1, on_frame=_collect(clean))
    shaky, d = _run_with("jitter")

    def roughness(frames: list[Frame]) -> float:
        a = np.array([f.action[:3] for f in frames])[d["start"] + 1 : d["start"] + d["duration"] + 1]
        return float(np.abs(np.diff(a, n=2, axis=0)).mean())

    assert roughness(shaky) > 3 * roughness(clean)
