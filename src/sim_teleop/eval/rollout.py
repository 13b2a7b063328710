"""Closed-loop policy rollouts in one process: the eval dataflow's episode rules without dora.

Used to compare checkpoints quickly (the learning curve evaluates every checkpoint of a run) on the
same held-out placements as `dataflow-eval.yaml`. It reproduces what the dataflow does per tick:

- placement *i* of a run is episode *i* (`SimEnv.reset(i)` with the eval seed), the policy is reset at
  every episode start and the held action starts neutral;
- each tick the frame carries the observation before the step, the sim then steps with the action it
  holds, and the policy's answer to that frame becomes the held action for the next tick (the dataflow's
  one-tick action latency);
- an attempt ends on success, on the env's failure or after `time_limit_s * fps` frames
  (`EpisodeStateMachine`, the sim node's own rules).

No rendering beyond the two cameras, no scoring and no recording: a 50-episode eval takes minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim_teleop.config import DEFAULT_FPS
from sim_teleop.control.policy import Policy
from sim_teleop.dataset.features import IMAGE_KEYS, STATE_KEY
from sim_teleop.eval.summary import EpisodeResult
from sim_teleop.messages import EndReason
from sim_teleop.sim.env import NEUTRAL_ACTION, Observation, SimEnv
from sim_teleop.sim.episode_state import EpisodeStateMachine


def observation_dict(obs: Observation) -> dict[str, np.ndarray]:
    """What the policy sees of an observation: the state and both cameras (never the cube pose)."""
    return {STATE_KEY: obs.state, **{key: getattr(obs, cam) for cam, key in IMAGE_KEYS.items()}}


@dataclass(slots=True)
class RolloutStats:
    """Per-run bookkeeping: results plus how long the policy took per call."""

    results: list[EpisodeResult] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def successes(self) -> int:
        return sum(1 for r in self.results if r.success)


def rollout(
    sim: SimEnv,
    policy: Policy,
    placement: int,
    max_steps: int,
    fps: float,
    latencies: list[float] | None = None,
) -> EpisodeResult:
    """One attempt on `placement`, ended by the sim node's rules; returns its result."""
    machine = EpisodeStateMachine(max_steps)  # starts running, as each attempt does in the dataflow
    policy.reset()
    obs = sim.reset(placement)
    held: np.ndarray = NEUTRAL_ACTION.copy()
    frames = 0
    success_frame: int | None = None
    while True:
        reason = machine.on_running_frame(obs.success, obs.failure)
        if obs.success and success_frame is None:
            success_frame = frames
        frames += 1
        if reason is not EndReason.NONE:
            break
        t0 = time.perf_counter()
        answer = np.asarray(policy.act(observation_dict(obs)), dtype=np.float32)
        if latencies is not None:
            latencies.append(time.perf_counter() - t0)
        obs = sim.step(held)  # the step this tick uses the answer to the previous frame
        held = answer
    return EpisodeResult(
        episode_index=placement,
        attempt_index=placement,
        end_reason=machine.end_reason.value,
        success=success_frame is not None,
        num_frames=frames,
        time_to_success_s=(success_frame / fps) if success_frame is not None else None,
    )


def evaluate(
    policy: Policy,
    episodes: int,
    seed: int = 1000,
    time_limit_s: float = 20.0,
    fps: int = DEFAULT_FPS,
    sim: SimEnv | None = None,
    progress: Callable[[EpisodeResult, RolloutStats], Any] | None = None,
) -> RolloutStats:
    """Roll `policy` out on placements 0..episodes-1 of `seed` (the eval dataflow's held-out set)."""
    own_sim = sim is None
    env = sim if sim is not None else SimEnv(seed=seed)
    max_steps = max(1, round(time_limit_s * fps))
    stats = RolloutStats()
    t0 = time.perf_counter()
    try:
        for placement in range(episodes):
            result = rollout(env, policy, placement, max_steps, fps, stats.latencies_s)
            stats.results.append(result)
            if progress is not None:
                progress(result, stats)
    finally:
        stats.wall_s = time.perf_counter() - t0
        if own_sim:
            env.close()
    return stats
