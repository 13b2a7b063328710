"""Scripted pick expert for unattended recording: approach, descend, close, lift.

The expert reads the privileged cube pose and the tool-centre point from each frame and commands an
absolute target offset from the attempt's start TCP (the action convention of `SimEnv`). Its commanded
target follows a trapezoidal speed profile towards stage waypoints, so actions are smooth and within
the sim's rate limit, and a stage only ends once the measured TCP has arrived: that closed loop is
what lets injected defects (pauses, detours, slow motion, dropped cubes) disturb a demonstration
without breaking it. Variation (speed, approach offset, hover height, timing) is drawn per attempt
from `(seed, attempt index)`, so a run is diverse yet reproducible.

The session that drives attempts with it, without dora, is `autopilot.session.AutopilotSession`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from sim_teleop.control.defects import EpisodePlan, MotionInjector
from sim_teleop.control.keyboard_operator import KeyboardOperator
from sim_teleop.control.operator import HumanOperator
from sim_teleop.messages import (
    STATE_GRIPPER,
    STATE_TCP,
    Frame,
)
from sim_teleop.sim.env import MAX_STEP

_PARAMS_DOMAIN = 0xE4BE27  # separates expert draws from other users of the same seed


@dataclass(frozen=True, slots=True)
class ExpertParams:
    """One attempt's style. Distances in metres, speeds in metres per frame (10 Hz)."""

    speed: float = 0.02
    accel: float = 0.005
    approach_offset: tuple[float, float] = (0.0, 0.0)  # xy of the hover point relative to the cube
    hover_height: float = 0.08  # hover point above the cube centre
    pregrasp_height: float = 0.04  # straight above the cube before the final descent
    grasp_depth: float = 0.0  # pinch point relative to the cube centre (z)
    start_delay: int = 2  # frames of stillness before moving
    close_frames: int = 4  # frames of a closed gripper before lifting
    lift_height: float = 0.18
    overshoot: float = 0.0  # the approach aims this far past the hover point (a human's correction)

    @classmethod
    def sample(cls, seed: int, attempt: int) -> ExpertParams:
        rng = np.random.default_rng([_PARAMS_DOMAIN, seed, attempt])
        angle = rng.uniform(0, 2 * math.pi)
        radius = rng.uniform(0.0, 0.04)
        return cls(
            speed=float(rng.uniform(0.012, 0.024)),
            accel=float(rng.uniform(0.003, 0.006)),
            approach_offset=(radius * math.cos(angle), radius * math.sin(angle)),
            hover_height=float(rng.uniform(0.06, 0.11)),
            pregrasp_height=float(rng.uniform(0.03, 0.045)),
            grasp_depth=float(rng.uniform(-0.004, 0.004)),
            start_delay=int(rng.integers(1, 6)),
            close_frames=int(rng.integers(3, 7)),
            lift_height=float(rng.uniform(0.15, 0.2)),
        )


class Stage(StrEnum):
    WAIT = "wait"
    APPROACH = "approach"
    PREGRASP = "pregrasp"
    DESCEND = "descend"
    CLOSE = "close"
    LIFT = "lift"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class ExpertObservation:
    tcp: np.ndarray  # world xyz of the tool-centre point
    cube: np.ndarray  # world xyz of the cube centre (privileged)
    gripper: float  # gripper command the sim applied, 0 open .. 1 closed

    @classmethod
    def from_frame(cls, frame: Frame) -> ExpertObservation:
        return cls(
            tcp=np.asarray(frame.state[STATE_TCP], dtype=np.float64),
            cube=np.asarray(frame.cube_pose[:3], dtype=np.float64),
            gripper=float(frame.state[STATE_GRIPPER]),
        )


ARRIVE_TOL = 0.006  # measured TCP within this of the waypoint ends a stage...
ARRIVE_TOL_GROWTH = 0.002  # ...relaxed per frame of waiting once the command has arrived (disturbances)
GRIPPER_OPEN = 0.05
GRIPPER_CLOSED = 0.95
CUBE_LOST_GAP = 0.015  # the cube fell this far behind the TCP while lifting: it is no longer held


class ScriptedExpert:
    """Stage machine plus a smooth commanded target; one instance per attempt."""

    def __init__(self, params: ExpertParams, start_tcp: np.ndarray) -> None:
        self.p = params
        self.start_tcp = np.asarray(start_tcp, dtype=np.float64)
        self.cmd: np.ndarray = np.zeros(3)  # commanded offset from the start TCP (what the action carries)
        self.vel: np.ndarray = np.zeros(3)
        self.gripper = 0.0
        self.stage = Stage.WAIT
        self.stage_frames = 0
        self.arrived_frames = 0  # frames since the command reached the waypoint
        self.open_frames = 0  # consecutive frames with the gripper measured open
        self.closed_frames = 0
        self.grasp_point: np.ndarray | None = None  # world, fixed when the gripper closes
        self.grasp_gap = 0.0  # TCP height above the cube centre when the gripper closed
        self.regrasps = 0

    # -- helpers --
    def _to(self, stage: Stage) -> None:
        self.stage = stage
        self.stage_frames = 0
        self.arrived_frames = 0

    def lifted(self, obs: ExpertObservation) -> float:
        """TCP rise above the grasp point while lifting (0 in other stages)."""
        if self.stage not in (Stage.LIFT, Stage.HOLD) or self.grasp_point is None:
            return 0.0
        return max(0.0, float(obs.tcp[2] - self.grasp_point[2]))

    def _move_towards(self, waypoint_world: np.ndarray) -> bool:
        """Advance the command one frame along a trapezoidal profile; True once it is at the waypoint."""
        goal = waypoint_world - self.start_tcp
        delta = goal - self.cmd
        dist = float(np.linalg.norm(delta))
        if dist < 1e-5:
            self.vel[:] = 0.0
            self.cmd = goal
            return True
        vmax = min(self.p.speed, math.sqrt(2 * self.p.accel * dist), MAX_STEP)
        dv = delta / dist * vmax - self.vel
        dv_norm = float(np.linalg.norm(dv))
        if dv_norm > self.p.accel:
            dv *= self.p.accel / dv_norm
        self.vel += dv
        step = float(np.linalg.norm(self.vel))
        if step >= dist:
            self.cmd = goal
            self.vel[:] = 0.0
            return True
        self.cmd = self.cmd + self.vel
        return False

    def _arrived(self, cmd_there: bool, obs: ExpertObservation, waypoint: np.ndarray) -> bool:
        if not cmd_there:
            self.arrived_frames = 0
            return False
        self.arrived_frames += 1
        tol = ARRIVE_TOL + ARRIVE_TOL_GROWTH * (self.arrived_frames - 1)
        return float(np.linalg.norm(obs.tcp - waypoint)) <= tol

    # -- the policy --
    def act(self, obs: ExpertObservation, hold_before_grasp: bool = False) -> np.ndarray:
        """The action for this frame. `hold_before_grasp`: hover, do not start the descent yet."""
        self.stage_frames += 1
        self.open_frames = self.open_frames + 1 if obs.gripper <= GRIPPER_OPEN else 0
        self.closed_frames = self.closed_frames + 1 if obs.gripper >= GRIPPER_CLOSED else 0
        if self.stage is Stage.WAIT and self.stage_frames > self.p.start_delay:
            self._to(Stage.APPROACH)
        if self.stage is Stage.APPROACH:
            self._approach(obs)
        elif self.stage is Stage.PREGRASP:
            self._pregrasp(obs, hold_before_grasp)
        elif self.stage is Stage.DESCEND:
            self._descend(obs)
        elif self.stage is Stage.CLOSE:
            self._close()
        elif self.stage in (Stage.LIFT, Stage.HOLD):
            self._lift(obs)
        return np.array([*self.cmd, self.gripper], dtype=np.float32)

    def _approach(self, obs: ExpertObservation) -> None:
        self.gripper = 0.0
        p = self.p
        hover = obs.cube + np.array([p.approach_offset[0], p.approach_offset[1], p.hover_height])
        if p.overshoot > 0.0:
            way = hover[:2] - self.start_tcp[:2]
            norm = float(np.hypot(way[0], way[1]))
            if norm > 1e-6:
                hover[:2] += way / norm * p.overshoot
        if self._arrived(self._move_towards(hover), obs, hover):
            self._to(Stage.PREGRASP)

    def _pregrasp(self, obs: ExpertObservation, hold_before_grasp: bool) -> None:
        self.gripper = 0.0
        above = obs.cube + np.array([0.0, 0.0, self.p.pregrasp_height])
        there = self._arrived(self._move_towards(above), obs, above)
        if there and not hold_before_grasp and self.open_frames >= 3:
            self._to(Stage.DESCEND)

    def _descend(self, obs: ExpertObservation) -> None:
        self.gripper = 0.0
        cube = obs.cube
        if self.open_frames < 2:  # fingers not open: back off rather than land on the cube
            self._move_towards(cube + np.array([0.0, 0.0, self.p.pregrasp_height]))
            return
        grasp = cube + np.array([0.0, 0.0, self.p.grasp_depth])
        if self._arrived(self._move_towards(grasp), obs, grasp):
            self.grasp_point = grasp.copy()
            self.grasp_gap = float(obs.tcp[2] - cube[2])
            self._to(Stage.CLOSE)

    def _close(self) -> None:
        self.gripper = 1.0
        assert self.grasp_point is not None
        self._move_towards(self.grasp_point)
        if self.closed_frames >= self.p.close_frames:
            self._to(Stage.LIFT)

    def _lift(self, obs: ExpertObservation) -> None:
        assert self.grasp_point is not None
        if self.lifted(obs) > 0.01 and (obs.tcp[2] - obs.cube[2]) - self.grasp_gap > CUBE_LOST_GAP:
            self.regrasps += 1  # the cube slipped or was dropped: go and pick it up again
            self.gripper = 0.0
            self._to(Stage.APPROACH)
            return
        self.gripper = 1.0
        top = self.grasp_point + np.array([0.0, 0.0, self.p.lift_height])
        if self._move_towards(top) and self.stage is Stage.LIFT:
            self._to(Stage.HOLD)


class AutopilotController:
    """One attempt: the expert behind the attempt's motion defects, optionally behind an operator model
    (`sim_teleop.control.operator`): a human hand's waits and corrections are part of the
    demonstration, the defects are applied on top, and its hand noise on whatever is finally commanded;
    a keyboard operator types the expert's intent, and the defects apply to what the keys command."""

    def __init__(
        self,
        params: ExpertParams,
        start_tcp: np.ndarray,
        plan: EpisodePlan,
        seed: int = 0,
        operator: HumanOperator | KeyboardOperator | None = None,
    ) -> None:
        if isinstance(operator, HumanOperator):
            params = replace(params, overshoot=operator.params.overshoot_m)
        elif isinstance(operator, KeyboardOperator):
            # The operator types towards where the expert is going, not along its speed ramps; and on a
            # keyboard nobody aims beside the cube or rises to a hover point to come down again.
            params = replace(
                params,
                speed=MAX_STEP,
                accel=MAX_STEP,
                approach_offset=(0.0, 0.0),
                hover_height=params.pregrasp_height,
            )
        self.expert = ScriptedExpert(params, start_tcp)
        self.injector = MotionInjector(plan, seed)
        self.operator = operator

    def act(self, frame_index: int, obs: ExpertObservation) -> np.ndarray:
        inj, op = self.injector, self.operator
        hand = op if isinstance(op, HumanOperator) else None
        if inj.paused(frame_index):
            action = inj.hold(frame_index)
        elif hand is not None and hand.waiting():
            assert hand.held is not None
            action = inj.apply(frame_index, hand.held, lifted=self.expert.lifted(obs))
        else:
            action = self.expert.act(obs, hold_before_grasp=inj.holds_before_grasp(frame_index))
            if hand is not None:
                hand.observe(action, self.expert.stage)
            elif isinstance(op, KeyboardOperator):
                action = op.follow(action)
            action = inj.apply(frame_index, action, lifted=self.expert.lifted(obs))
        return hand.jitter(action) if hand is not None else action
