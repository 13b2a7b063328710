"""In-process closed-loop rollouts follow the eval dataflow's rules: placements, latency, episode ends."""

from __future__ import annotations

import numpy as np

from sim_teleop.eval.rollout import evaluate, observation_dict, rollout
from sim_teleop.messages import STATE_DIM
from sim_teleop.sim.env import Observation


def _obs(step: int, success: bool = False) -> Observation:
    state = np.full(STATE_DIM, float(step), np.float32)
    img = np.zeros((128, 128, 3), np.uint8)
    return Observation(state=state, front=img, wrist=img, cube_pose=np.zeros(7, np.float32), success=success)


class FakeSim:
    """Counts steps; succeeds after `succeed_after` steps of a placement (never when None)."""

    def __init__(self, succeed_after: dict[int, int | None]) -> None:
        self.succeed_after = succeed_after
        self.placement = -1
        self.steps = 0
        self.applied: list[np.ndarray] = []
        self.resets: list[int] = []

    def reset(self, placement: int) -> Observation:
        self.placement, self.steps = placement, 0
        self.resets.append(placement)
        return _obs(0)

    def step(self, action: np.ndarray) -> Observation:
        self.applied.append(np.asarray(action).copy())
        self.steps += 1
        after = self.succeed_after.get(self.placement)
        return _obs(self.steps, success=after is not None and self.steps >= after)

    def close(self) -> None:
        pass


class EchoPolicy:
    """Answers each observation with an action that names the observation's step."""

    def __init__(self) -> None:
        self.resets = 0
        self.seen: list[float] = []

    def reset(self) -> None:
        self.resets += 1

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        assert set(obs) == {"observation.state", "observation.images.front", "observation.images.wrist"}
        step = float(obs["observation.state"][0])
        self.seen.append(step)
        return np.array([step, 0.0, 0.0, 1.0], np.float32)


def test_the_sim_steps_on_the_answer_to_the_previous_frame() -> None:
    sim, policy = FakeSim({0: 4}), EchoPolicy()
    result = rollout(sim, policy, placement=0, max_steps=50, fps=10)  # type: ignore[arg-type]
    # step 1 runs on the neutral start action, step k+1 on the answer to frame k-1 (one-tick latency)
    assert [a[0] for a in sim.applied] == [0.0, 0.0, 1.0, 2.0]
    assert sim.applied[0][3] == 0.0 and sim.applied[1][3] == 1.0
    assert result.success and result.end_reason == "success"
    assert result.num_frames == 5 and result.time_to_success_s == 0.4  # the success frame is frame 4
    assert policy.seen == [0.0, 1.0, 2.0, 3.0]  # no action is computed on the success frame


def test_time_limit_and_placements_match_the_dataflow() -> None:
    sim, policy = FakeSim({0: None, 1: 2, 2: None}), EchoPolicy()
    stats = evaluate(policy, episodes=3, time_limit_s=0.6, fps=10, sim=sim)  # type: ignore[arg-type]
    assert sim.resets == [0, 1, 2] and policy.resets == 3
    assert [r.success for r in stats.results] == [False, True, False]
    assert [r.end_reason for r in stats.results] == ["time_limit", "success", "time_limit"]
    assert [r.num_frames for r in stats.results] == [6, 3, 6]  # at most time_limit * fps frames
    assert stats.successes == 1 and len(stats.latencies_s) == 5 + 2 + 5


def test_observation_dict_never_shows_the_cube_pose() -> None:
    assert "cube_pose" not in " ".join(observation_dict(_obs(0)))
