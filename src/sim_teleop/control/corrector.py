"""A simulated person watching an eval: takes over a failing policy, finishes the pick on the keys, lets go.

It stands in for a person at the keyboard so the takeover loop can be tested and measured unattended.
It watches what a person sees (the gripper and the cube; here read from the frame's privileged cube
pose) and takes over on the rules a person would follow:

- no progress: the gripper got no closer to the cube over the last `stuck_s` (1.5 s);
- gripper closed on nothing: closed for `empty_grip_s` while the cube is not between the fingers;
- time running out: less than `finish_s` left and the cube still on the table.

Then it drives as the keyboard does: the scripted expert's intent typed by the keyboard operator model
(`KeyboardOperator`, through `KeyboardTeleop`), starting from the policy's last commanded target (a
closed gripper is opened with a tap of the gripper key, as a person would). It drives until the attempt
ends, then lets go: the next attempt is the policy's again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from sim_teleop.config import Config, setting
from sim_teleop.control.defects import plan_for_episode
from sim_teleop.control.expert import AutopilotController, ExpertObservation, ExpertParams
from sim_teleop.control.keyboard_operator import GRIPPER_KEY, KeyboardOperator
from sim_teleop.messages import STATE_GRIPPER, STATE_TCP, EndReason, Frame, Phase

GRASPED_M = 0.03
"""The cube counts as between the fingers when the TCP is this close to its centre."""
LIFTED_M = 0.01
"""The cube counts as off the table once this far above where it started."""


@dataclass(frozen=True)
class CorrectorConfig(Config):
    """The corrector's patience. fps and time limit are the run's (the sim's SIM_TIME_LIMIT_S)."""

    stuck_s: float = setting(1.5, env="CORRECTOR_STUCK_S", min=0.1)
    progress_m: float = setting(0.01, env="CORRECTOR_PROGRESS_M", min=0.0)
    empty_grip_s: float = setting(0.5, env="CORRECTOR_EMPTY_GRIP_S", min=0.1)
    finish_s: float = setting(6.0, env="CORRECTOR_FINISH_S", min=0.0)
    time_limit_s: float = setting(20.0, env="SIM_TIME_LIMIT_S", min=0.1)
    seed: int = setting(0, env="CORRECTOR_SEED")
    fps: int = setting(10, min=1)


class _Watch:
    """One attempt as the person sees it, until they take over."""

    def __init__(self, frame: Frame, cfg: CorrectorConfig) -> None:
        self.start_tcp = np.asarray(frame.state[STATE_TCP], np.float64)
        self.cube_z0 = float(frame.cube_pose[2])
        self.window = max(2, round(cfg.stuck_s * cfg.fps))
        self.distances: deque[float] = deque(maxlen=self.window + 1)
        self.empty_grip = 0

    def reason(self, frame: Frame, cfg: CorrectorConfig) -> str | None:
        """Why a person would take over at this frame (None: let the policy go on)."""
        tcp = np.asarray(frame.state[STATE_TCP], np.float64)
        cube = np.asarray(frame.cube_pose[:3], np.float64)
        distance = float(np.linalg.norm(tcp - cube))
        self.distances.append(distance)
        if float(cube[2]) - self.cube_z0 > LIFTED_M:
            return None  # the policy has it: nothing to correct
        closed = float(frame.state[STATE_GRIPPER]) > 0.5
        self.empty_grip = self.empty_grip + 1 if closed and distance > GRASPED_M else 0
        if self.empty_grip >= round(cfg.empty_grip_s * cfg.fps):
            return f"gripper closed on nothing for {cfg.empty_grip_s:g} s"
        left_s = cfg.time_limit_s - frame.frame_index / cfg.fps
        if left_s < cfg.finish_s:
            return f"time running out ({left_s:.1f} s left)"
        if len(self.distances) > self.window and self.distances[0] - min(self.distances) < cfg.progress_m:
            return f"no progress toward the cube for {cfg.stuck_s:g} s"
        return None


class Corrector:
    """Frames in; per frame the keyboard action to send (None: not driving) and a console line."""

    def __init__(self, cfg: CorrectorConfig) -> None:
        self.cfg = cfg
        self.attempt: int | None = None
        self.watch: _Watch | None = None
        self.driver: AutopilotController | None = None
        self.operator: KeyboardOperator | None = None
        self.took_over_at: int | None = None
        self.driven = 0  # frames of this attempt it sent an action for
        self.takeovers = 0

    def on_frame(self, frame: Frame) -> tuple[np.ndarray | None, str | None]:
        running = frame.phase is Phase.RUNNING and frame.end_reason is EndReason.NONE
        line = None
        if frame.episode_index != self.attempt:
            line = self._let_go(frame)
            self.attempt = frame.episode_index
            self.watch = _Watch(frame, self.cfg) if running else None
        if not running:
            return None, line or self._let_go(frame)
        if self.watch is None:  # joined an attempt after its first frame: its start pose is unknown
            return None, line
        if self.driver is None:
            why = self.watch.reason(frame, self.cfg)
            if why is None:
                return None, line
            line = self._take_over(frame, why)
        assert self.driver is not None and self.operator is not None
        self.driven += 1
        obs = ExpertObservation.from_frame(frame)
        return self.driver.act(frame.frame_index, obs), line

    def _take_over(self, frame: Frame, why: str) -> str:
        assert self.watch is not None
        idx = frame.episode_index
        params = ExpertParams.sample(self.cfg.seed, idx)
        self.operator = KeyboardOperator.sample(self.cfg.seed, idx)
        self.driver = AutopilotController(
            params, self.watch.start_tcp, plan_for_episode(None, 0, idx), operator=self.operator
        )
        # From where the policy left the target: the expert's command and the keys both start there.
        last = np.asarray(frame.action, np.float32)
        self.driver.expert.cmd = last[:3].astype(np.float64)
        teleop = self.operator.teleop
        teleop.rebase(last)
        if last[3] > 0.5:  # a closed gripper stays closed on the keyboard until its key is tapped
            teleop.press(GRIPPER_KEY)
            teleop.release(GRIPPER_KEY)
        for _ in range(self.operator.params.reaction):  # a reaction time of holding still first
            self.operator.goals.append(last.astype(np.float64))
        self.took_over_at = frame.frame_index
        self.driven = 0
        self.takeovers += 1
        return f"corrector takes over attempt {idx} at frame {frame.frame_index}: {why}"

    def _let_go(self, frame: Frame) -> str | None:
        if self.driver is None:
            return None
        line = (
            f"corrector lets go: attempt {self.attempt} ended ({frame.end_reason.value or 'next'}) after "
            f"{self.driven} frames on the keys from frame {self.took_over_at}"
        )
        self.driver = self.operator = None
        return line
