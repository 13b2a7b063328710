"""In-process autopilot episodes (SimEnv + scripted expert + defect injectors) for calibration and the
benchmark: the same physics, expert and injectors as `dataflow-autopilot.yaml`, without dora, so hundreds
of episodes cost minutes. One difference: in-process the action computed from frame i is applied at once,
where the dataflow applies it one tick later.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from sim_teleop.control.defects import (
    DefectConfig,
    EpisodePlan,
    FamilySpec,
    apply_camera_defect,
    plan_for_episode,
)
from sim_teleop.control.expert import AutopilotController, ExpertObservation, ExpertParams
from sim_teleop.control.operator import make_operator
from sim_teleop.messages import CAMERAS, STATE_GRIPPER, STATE_TCP
from sim_teleop.sim.env import SimEnv


@dataclass(slots=True)
class RecordedFrame:
    state: np.ndarray
    action: np.ndarray
    success: bool
    contact_force: float
    cube_pose: np.ndarray
    images: dict[str, np.ndarray] | None = None


@dataclass(slots=True)
class Episode:
    key: str
    plan: EpisodePlan
    frames: list[RecordedFrame] = field(default_factory=list)
    success: bool = False
    end_reason: str = ""

    @property
    def defects(self) -> list[dict]:
        return self.plan.annotation()["defects"]


def single_family_config(family: str, severity: float, seed: int = 0) -> DefectConfig:
    """Every episode gets exactly `family` at `severity` (timing still drawn per episode)."""
    return DefectConfig(1.0, {family: FamilySpec(1.0, (severity, severity))}, 1, seed)


def run_episode(
    sim: SimEnv,
    placement: int,
    plan: EpisodePlan,
    expert_seed: int,
    defects_seed: int = 0,
    max_steps: int = 200,
    keep_images: bool = False,
    operator: str = "expert",
) -> Episode:
    """One attempt as the recorder would store it: running frames up to and including the end frame.

    `operator`: who drives the expert (`sim_teleop.control.operator.OPERATORS`)."""
    obs = sim.reset(placement)
    start_tcp = np.asarray(obs.state[STATE_TCP], dtype=np.float64)
    ctrl = AutopilotController(
        ExpertParams.sample(expert_seed, plan.episode_index),
        start_tcp,
        plan,
        defects_seed,
        make_operator(operator, expert_seed, plan.episode_index),
    )
    ep = Episode(key=f"p{placement}", plan=plan)
    # As in the dataflow: a frame carries the action the sim applies at that tick, which is the
    # expert's answer to the previous frame (one tick of latency); the first frame's is neutral.
    action = np.zeros(4, dtype=np.float32)
    for i in range(max_steps):
        eobs = ExpertObservation(
            tcp=np.asarray(obs.state[STATE_TCP], dtype=np.float64),
            cube=np.asarray(obs.cube_pose[:3], dtype=np.float64),
            gripper=float(obs.state[STATE_GRIPPER]),
        )
        answer = ctrl.act(i, eobs)
        images = None
        if keep_images:
            images = {cam: apply_camera_defect(plan, cam, getattr(obs, cam), i) for cam in CAMERAS}
        ep.frames.append(
            RecordedFrame(
                obs.state.copy(), action.copy(), obs.success, obs.contact_force, obs.cube_pose.copy(), images
            )
        )
        if obs.success or obs.failure:
            ep.success = obs.success
            ep.end_reason = "success" if obs.success else "failure"
            return ep
        if i == max_steps - 1:
            break
        obs = sim.step(action)
        action = answer
    ep.end_reason = "time_limit"
    return ep


def with_camera_defect(ep: Episode, plan: EpisodePlan) -> Iterator[RecordedFrame]:
    """The same episode seen through `plan`'s camera defects (they never change the physics)."""
    for i, f in enumerate(ep.frames):
        assert f.images is not None
        images = {cam: apply_camera_defect(plan, cam, img, i) for cam, img in f.images.items()}
        yield RecordedFrame(f.state, f.action, f.success, f.contact_force, f.cube_pose, images)


def camera_plan(family: str, severity: float, seed: int, episode_index: int, camera: str) -> EpisodePlan:
    cfg = DefectConfig(1.0, {family: FamilySpec(1.0, (severity, severity))}, 1, seed, (camera,))
    return plan_for_episode(cfg, seed, episode_index)
