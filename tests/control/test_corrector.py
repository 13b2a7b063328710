"""The simulated corrector against the real sim in-process: it takes over a stuck policy on a person's
rules, continues from the policy's last target and finishes the pick through the keyboard's logic."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from sim_teleop.control.corrector import Corrector, CorrectorConfig
from sim_teleop.messages import Control, EndReason, Frame
from sim_teleop.sim.env import SimEnv
from sim_teleop.sim.runner import SimConfig, SimRunner

LIMIT_S = 15.0


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def sim() -> Iterator[SimEnv]:
    env = SimEnv(image_obs=False, seed=1000)
    yield env
    env.close()


def _attempt(runner: SimRunner, clock: Clock, corrector: Corrector, policy: np.ndarray) -> list[Frame]:
    """One attempt: the policy holds `policy`, the corrector's actions go to the takeover input."""
    frames = []
    for _ in range(round(LIMIT_S * 10) + 1):
        clock.t += 0.1
        frame = runner.tick()
        frames.append(frame)
        action, _line = corrector.on_frame(frame)
        if action is not None:
            runner.set_human_action(action)
        runner.set_action(policy)
        runner.advance()
        if frame.end_reason is not EndReason.NONE:
            break
    runner.control(Control.NEXT)
    corrector.on_frame(runner.tick())
    runner.control(Control.NEXT)
    return frames


@pytest.mark.parametrize(
    ("policy", "why"),
    [
        (np.zeros(4, np.float32), "no progress"),
        (np.array([0.04, -0.03, -0.02, 1.0], np.float32), "gripper closed on nothing"),
    ],
    ids=["standing_still", "closed_on_nothing"],
)
def test_the_corrector_takes_over_a_stuck_policy_and_finishes_the_pick(
    sim: SimEnv, policy: np.ndarray, why: str
) -> None:
    clock, said = Clock(), list[str]()
    runner = SimRunner(sim, SimConfig(time_limit_s=LIMIT_S), clock=clock, say=said.append)
    corrector = Corrector(CorrectorConfig(time_limit_s=LIMIT_S))
    lines = []
    original = corrector._take_over

    def take_over(frame: Frame, reason: str) -> str:
        lines.append(reason)
        return original(frame, reason)

    corrector._take_over = take_over  # type: ignore[method-assign,assignment]
    frames = _attempt(runner, clock, corrector, policy)
    assert len(lines) == 1 and why in lines[0]
    flags = [f.intervention for f in frames]
    first = flags.index(True)
    # One contiguous takeover to the end of the attempt, which it finishes.
    assert all(flags[first:]) and not any(flags[:first])
    assert frames[-1].end_reason is EndReason.SUCCESS
    # No jump: the first frame the keys drove holds the policy's last target (and gripper).
    jump = np.abs(frames[first].action - frames[first - 1].action).max()
    assert jump <= 1e-3, (frames[first - 1].action, frames[first].action)
    assert corrector.took_over_at == first - 1  # its action drives the very next tick
    assert sum("took over" in line for line in said) == 1


def test_the_corrector_leaves_a_policy_that_makes_progress_alone(sim: SimEnv) -> None:
    clock = Clock()
    runner = SimRunner(sim, SimConfig(time_limit_s=LIMIT_S), clock=clock)
    corrector = Corrector(CorrectorConfig(time_limit_s=LIMIT_S, finish_s=0.0))
    frames: list[Frame] = []
    for i in range(40):  # 4 s moving steadily towards the cube
        clock.t += 0.1
        frame = runner.tick()
        frames.append(frame)
        assert corrector.on_frame(frame) == (None, None)
        cube = frame.cube_pose[:3] - runner.sim.start_tcp + np.array([0.0, 0.0, 0.05])
        runner.set_action(np.append(cube * min(1.0, (i + 1) / 40), 0.0).astype(np.float32))
        runner.advance()
    assert not any(f.intervention for f in frames)
    runner.control(Control.RERECORD)
    runner.tick()
    runner.control(Control.NEXT)
