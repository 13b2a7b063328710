"""Test helpers for the recorder: the real SimRunner (real frame semantics) over a tiny fake env."""

from __future__ import annotations

import numpy as np

from sim_teleop.messages import CUBE_POSE_DIM, IMAGE_SHAPE, STATE_DIM, Control, Frame
from sim_teleop.sim.env import Observation
from sim_teleop.sim.runner import SimConfig, SimRunner


class FakeEnv:
    """Stands in for SimEnv: state carries a step counter, images a per-step grey level."""

    def __init__(self, success_at: int | None = None) -> None:
        self.steps = 0
        self.success_at = success_at

    def _obs(self, success: bool = False) -> Observation:
        state = np.zeros(STATE_DIM, np.float32)
        state[0] = self.steps
        level = (self.steps * 7) % 256
        img = np.full(IMAGE_SHAPE, level, np.uint8)
        return Observation(state, img, img.copy(), np.zeros(CUBE_POSE_DIM, np.float32), success=success)

    def reset(self, placement: int) -> Observation:
        self.steps = 0
        return self._obs()

    def step(self, action: np.ndarray) -> Observation:
        self.steps += 1
        return self._obs(success=self.success_at is not None and self.steps >= self.success_at)

    def close(self) -> None:
        pass


class ScriptedSim:
    """Emit frames tick by tick like the sim node, applying controls between ticks."""

    def __init__(
        self, time_limit_s: float = 100.0, success_at: int | None = None, wait_for_start: bool = False
    ) -> None:
        self.t = 0.0
        self.runner = SimRunner(
            FakeEnv(success_at),  # type: ignore[arg-type]
            SimConfig(time_limit_s=time_limit_s, wait_for_start=wait_for_start),
            clock=lambda: self.t,
        )
        self.sent_actions: list[tuple[int, int, np.ndarray]] = []  # (attempt, frame_index, action)

    def tick(self, action: np.ndarray | None = None) -> Frame:
        if action is not None:
            self.runner.set_action(action)
        frame = self.runner.tick()
        self.runner.advance()
        self.t += 0.1
        return frame

    def control(self, command: Control) -> None:
        self.runner.control(command)


def episode_frames(sim: ScriptedSim, running: int, end: str = "next", done_ticks: int = 2) -> list[Frame]:
    """`running` running frames, then finish with Space (`next`) or Ctrl (`rerecord`), then reset."""
    frames = []
    for i in range(running):
        a = np.array([0.01 * i, -0.01 * i, 0.0, float(i % 2)], np.float32)
        frames.append(sim.tick(a))
    if end == "rerecord":
        sim.control(Control.RERECORD)
    else:
        sim.control(Control.NEXT)  # running -> done
        frames += [sim.tick() for _ in range(done_ticks)]
        sim.control(Control.NEXT)  # done -> resetting
    frames += [sim.tick() for _ in range(2)]
    sim.control(Control.NEXT)  # resetting -> running (next attempt)
    return frames
