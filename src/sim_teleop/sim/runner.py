"""The sim node's per-tick logic, free of dora so it can be tested in-process.

Each tick: emit one frame (the current observation, the action about to be applied, and the episode
state), then advance the world by one control step if the attempt is still running. So a recorded
frame pairs an observation with the action executed from it, and the step's cost is paid after the
frame left, not before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from sim_teleop.config import env_bool, env_float, env_int, env_str
from sim_teleop.messages import Control, EndReason, Frame, Phase
from sim_teleop.sim.env import NEUTRAL_ACTION, PICK_CUBE, Observation, SimEnv, clamp_action
from sim_teleop.sim.episode_state import EpisodeStateMachine


@dataclass(frozen=True, slots=True)
class SimConfig:
    env_id: str = PICK_CUBE
    seed: int = 0
    time_limit_s: float = 20.0
    fps: int = 10
    fast_render: bool = True
    viewer: str = "auto"  # auto (when a display exists) / 1 / 0
    tick_ms: float | None = None  # wall-clock tick period; None = 1000 / fps (faster ticks: bulk generation)
    first_episode: int = 0  # episodes already in a resumed dataset: placements continue from there
    wait_for_start: bool = False  # the first attempt starts on the operator's first `next` (keyboard)

    @property
    def tick_period_s(self) -> float:
        return (self.tick_ms if self.tick_ms is not None else 1000.0 / self.fps) / 1000.0

    @property
    def max_steps(self) -> int:
        return max(1, round(self.time_limit_s * self.fps))

    @classmethod
    def from_env(cls) -> SimConfig:
        viewer = env_str("SIM_VIEWER", "auto").lower()
        if viewer not in ("auto", "0", "1"):
            from sim_teleop.config import ConfigError

            raise ConfigError(f"SIM_VIEWER={viewer!r}: expected auto, 0 or 1")
        return cls(
            env_id=env_str("SIM_ENV", PICK_CUBE),
            seed=env_int("SIM_SEED", 0),
            time_limit_s=env_float("SIM_TIME_LIMIT_S", 20.0, minimum=0.1),
            fps=env_int("SIM_FPS", 10, minimum=1),
            fast_render=env_bool("SIM_FAST_RENDER", True),
            viewer=viewer,
            tick_ms=env_float("SIM_TICK_MS", 0.0, minimum=0.0) or None,
            first_episode=resumed_episodes(),
            wait_for_start=env_bool("SIM_WAIT_FOR_START", False),
        )


def resumed_episodes() -> int:
    """Where a resumed recording's attempts (and so placements) start (RESUME_RECORDING=1), else 0.

    The root is resolved exactly as the recorder resolves it (RECORD_CONFIG, RECORD_ROOT). A session's
    placement is its first attempt index plus the episodes saved so far, never more than the attempt
    index; starting after every attempt the dataset's sidecar remembers (and at least at its episode
    count) means no placement in the dataset can come back, even after deletes renumbered it.
    """
    if not env_bool("RESUME_RECORDING", False):
        return 0
    from sim_teleop.config import ConfigError
    from sim_teleop.dataset import DatasetError
    from sim_teleop.dataset.reader import is_dataset, read_info
    from sim_teleop.dataset.sidecar import EpisodeSidecar
    from sim_teleop.recorder.session import RecordConfig

    root = RecordConfig.load().root
    if not is_dataset(root):
        return 0
    try:
        total = int(read_info(root).get("total_episodes", 0))
    except DatasetError as exc:
        raise ConfigError(f"RESUME_RECORDING=1: {exc}") from None
    attempts = [int(r.get("sim_episode_index", -1)) for r in EpisodeSidecar(root).records.values()]
    return max([total, *(a + 1 for a in attempts)])


def tick_is_stale(sent_at: datetime | None, now: datetime, period_s: float) -> bool:
    """A tick sent more than one period ago: a newer one is queued behind it, so it is skipped.

    The sim's tick input has room for several ticks, and the sim drops the stale ones itself, rather
    than dora dropping them at a queue of 1, which prints one warning per dropped tick (hundreds per
    run on a loaded machine). Both keep only the newest tick; the missed ones are counted from wall
    time (`TickCounter`)."""
    return sent_at is not None and (now - sent_at).total_seconds() > period_s


class TickCounter:
    """Counts timer ticks the sim failed to serve, from wall time (a late step makes dora drop ticks)."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.start: float | None = None
        self.served = 0

    def serve(self, now: float) -> tuple[int, int]:
        """Register one served tick at `now`; return (tick_index, ticks_missed so far)."""
        if self.start is None:
            self.start = now
        self.served += 1
        expected = int((now - self.start) / self.period_s + 0.5) + 1
        if expected < self.served:
            # A tick that queued while the node was busy arrived early: re-anchor the grid on it.
            self.start = now - (self.served - 1) * self.period_s
            expected = self.served
        return expected - 1, expected - self.served

    def restart(self) -> None:
        """Count from the next tick: dora's first send_output blocks ~1 s while its channel opens."""
        self.start = None
        self.served = 0


class AnswerCounter:
    """Counts steps that applied an action computed from an older frame than the previous one.

    The best a controller can do is answer frame t-1 before the step of tick t (frame t leaves just
    before that step). When its inference overruns, the sim applies the action it holds, an older
    answer, and counts the step as late. Only controllers that stamp their actions with the frame's
    tick (the policy node) are counted; the first step of an attempt (neutral action) is not.
    """

    def __init__(self) -> None:
        self.enabled = False
        self.answered_tick: int | None = None
        self.previous_tick: int | None = None
        self.current_tick: int | None = None
        self.first = True
        self.steps = 0
        self.late = 0

    def on_action(self, answers_tick: int | None) -> None:
        if answers_tick is not None:
            self.enabled = True
            self.answered_tick = answers_tick

    def on_frame(self, tick_index: int, first: bool) -> None:
        self.previous_tick, self.current_tick = self.current_tick, tick_index
        self.first = first

    def on_step(self) -> None:
        if not self.enabled or self.first or self.previous_tick is None:
            return
        self.steps += 1
        if self.answered_tick is None or self.answered_tick < self.previous_tick:
            self.late += 1


class SimRunner:
    def __init__(
        self,
        sim: SimEnv,
        config: SimConfig,
        clock: Callable[[], float] = time.monotonic,
        on_step: Callable[[], None] | None = None,
    ) -> None:
        self.sim = sim
        self.config = config
        self.clock = clock
        self.on_step = on_step  # e.g. sync a viewer window
        self.machine = EpisodeStateMachine(
            config.max_steps, first_episode=config.first_episode, wait_for_start=config.wait_for_start
        )
        self.ticks = TickCounter(config.tick_period_s)
        self.action = NEUTRAL_ACTION.copy()
        self.obs: Observation = sim.reset(placement=self.machine.saved_episodes)
        self.episode_start = clock()
        self.phase_frames = 0  # frames emitted in a done/resetting phase (for frame_index there)
        self.answers = AnswerCounter()

    def set_action(self, action: np.ndarray, answers_tick: int | None = None) -> None:
        """Hold a new (validated) action; it is clamped to the commandable workspace.

        `answers_tick`: the tick index of the frame the controller computed it from, when it says so
        (the policy node does); then every step counts whether its action answered the previous frame.
        """
        self.action = clamp_action(action)
        self.answers.on_action(answers_tick)

    @property
    def stopped(self) -> bool:
        return self.machine.stopped

    def control(self, command: Control) -> None:
        effect = self.machine.control(command)
        self.phase_frames = 0
        if effect.reset_env:
            self.obs = self.sim.reset(placement=self.machine.saved_episodes)
            self.action = NEUTRAL_ACTION.copy()
        if effect.start_episode:
            self.action = NEUTRAL_ACTION.copy()
            self.episode_start = self.clock()

    def tick(self) -> Frame:
        """Emit this tick's frame; call `advance()` after sending it."""
        now = self.clock()
        tick_index, missed = self.ticks.serve(now)
        m = self.machine
        obs = self.obs
        self.answers.on_frame(tick_index, first=m.phase is Phase.RUNNING and m.steps == 0)
        if m.phase is Phase.RUNNING:
            frame_index = m.steps
            end_reason = m.on_running_frame(obs.success, obs.failure)
            phase = Phase.RUNNING
        else:
            frame_index = self.phase_frames
            self.phase_frames += 1
            end_reason = m.end_reason
            phase = m.phase
        return Frame(
            episode_index=m.episode_index,
            frame_index=frame_index,
            phase=phase,
            end_reason=end_reason,
            timestamp=now - self.episode_start,
            tick_index=tick_index,
            ticks_missed=missed,
            state=obs.state,
            action=self.action.copy(),
            reward=obs.reward,
            success=obs.success,
            front=obs.front,
            wrist=obs.wrist,
            cube_pose=obs.cube_pose,
            contact_force=obs.contact_force,
        )

    def advance(self) -> None:
        """Step the world with the held action while the attempt runs; done/resetting stay frozen."""
        if self.machine.phase is Phase.RUNNING and self.machine.end_reason is EndReason.NONE:
            self.answers.on_step()
            self.obs = self.sim.step(self.action)
            if self.on_step is not None:
                self.on_step()
