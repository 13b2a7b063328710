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
from datetime import UTC, datetime
from typing import Any

import numpy as np

from sim_teleop.config import (
    DEFAULT_FPS,
    DEFAULT_STALL_S,
    Config,
    ConfigError,
    RunConfig,
    setting,
)
from sim_teleop.messages import TICK, Control, EndReason, Frame, Phase
from sim_teleop.sim.clock import TickCounter
from sim_teleop.sim.env import (
    NEUTRAL_ACTION,
    PICK_CUBE,
    SUPPORTED_ENVS,
    Observation,
    SimEnv,
    action_problem,
    clamp_action,
)
from sim_teleop.sim.episode_state import EpisodeStateMachine
from sim_teleop.sim.handover import RELEASE_S, Handover


@dataclass(frozen=True)
class SimConfig(Config):
    env_id: str = setting(PICK_CUBE)  # the run's (RunConfig.sim_env, env SIM_ENV), set by `from_env`
    seed: int = setting(0, env="SIM_SEED")
    time_limit_s: float = setting(20.0, env="SIM_TIME_LIMIT_S", min=0.1)
    fps: int = setting(DEFAULT_FPS, min=1)  # the run's (RunConfig.fps), set by `from_env`
    fast_render: bool = setting(True, env="SIM_FAST_RENDER")
    viewer: str = setting("auto", env="SIM_VIEWER", choices=("auto", "0", "1"))  # auto: when a display exists
    tick_period_s: float = setting(1.0 / DEFAULT_FPS, min=0.0)  # the run's (RunConfig), set by `from_env`
    first_episode: int = setting(0, min=0)  # episodes already in a resumed dataset: placements continue
    wait_for_start: bool = setting(False, env="SIM_WAIT_FOR_START")  # first attempt on the first `next`
    stall_s: float = setting(DEFAULT_STALL_S, min=0.0)  # the run's (RunConfig.stall_s), set by `from_env`

    def validate(self) -> None:
        if self.env_id not in SUPPORTED_ENVS:  # before MuJoCo starts: one line, not gym's traceback
            raise ConfigError(
                f"sim env {self.env_id!r} (SIM_ENV, or the run config's sim_env) is not supported; "
                f"choose one of {', '.join(SUPPORTED_ENVS)}"
            )

    @property
    def max_steps(self) -> int:
        return max(1, round(self.time_limit_s * self.fps))

    @classmethod
    def from_env(cls) -> SimConfig:
        """SIM_* env vars, the run's frame rate and env, and where a resumed recording's placements
        continue."""
        run = RunConfig.load()
        values = {
            "env_id": run.sim_env,
            "fps": run.fps,
            "stall_s": run.stall_s,
            "tick_period_s": run.tick_period_s,
            "first_episode": resumed_episodes(run),
        }
        return cls.from_dict(values, where="sim")


def resumed_episodes(run: RunConfig) -> int:
    """Where a resumed recording's attempts (and so placements) start (RESUME_RECORDING=1), else 0: the
    dataset decides (`dataset.sidecar.next_attempt`); the root is the run's, resolved exactly as the
    recorder resolves it (RECORD_CONFIG, RECORD_ROOT)."""
    if not run.resume:
        return 0
    from sim_teleop.dataset import DatasetError
    from sim_teleop.dataset.sidecar import next_attempt

    try:
        return next_attempt(run.root)
    except DatasetError as exc:
        raise ConfigError(f"RESUME_RECORDING=1: {exc}") from None


def tick_is_stale(sent_at: datetime | None, now: datetime, period_s: float) -> bool:
    """A tick sent more than one period ago: a newer one is queued behind it, so it is skipped.

    The sim's tick input has room for several ticks, and the sim drops the stale ones itself, rather
    than dora dropping them at a queue of 1, which prints one warning per dropped tick (hundreds per
    run on a loaded machine). Both keep only the newest tick; the missed ones are counted from wall
    time (`TickCounter`)."""
    return sent_at is not None and (now - sent_at).total_seconds() > period_s


class AnswerCounter:
    """Counts steps that applied an action computed from an older frame than the previous one.

    The best a controller can do is answer frame t-1 before the step of tick t (frame t leaves just
    before that step). When its inference overruns, the sim applies the action it holds, an older
    answer, and counts the step as late. Only controllers that stamp their actions with the frame's
    tick (the policy node) get a summary; the first step of an attempt (neutral action) is not counted.
    Steps before the first stamped answer arrived ran on the neutral action: late, not uncounted (a
    policy's first inference is its slowest, and more so on a loaded machine).
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
        if self.first or self.previous_tick is None:
            return
        self.steps += 1
        if self.answered_tick is None or self.answered_tick < self.previous_tick:
            self.late += 1

    def summary(self, period_s: float) -> str | None:
        """The end-of-run line, when a controller stamped its actions."""
        if not self.enabled or not self.steps:
            return None
        return (
            f"{self.steps} controller steps: {self.steps - self.late} on the answer to the previous frame, "
            f"{self.late} on an older action (inference overran the {1000 * period_s:g} ms tick)"
        )


def answered_tick(metadata: dict[str, Any] | None) -> int | None:
    """The tick of the frame an action answers, when its sender stamped it (metadata `tick`)."""
    value = (metadata or {}).get(TICK)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _ignore_problem(_kind: str, _message: str) -> None:
    pass


class SimRunner:
    def __init__(
        self,
        sim: SimEnv,
        config: SimConfig,
        clock: Callable[[], float] = time.monotonic,
        on_step: Callable[[], None] | None = None,
        problem: Callable[[str, str], None] | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.sim = sim
        self.config = config
        self.clock = clock
        self.on_step = on_step  # e.g. sync a viewer window
        # (kind, message) of an action out of range: the node's OnceLogger logs each kind once, counts all
        self.problem = problem if problem is not None else _ignore_problem
        self.machine = EpisodeStateMachine(
            config.max_steps, first_episode=config.first_episode, wait_for_start=config.wait_for_start
        )
        self.ticks = TickCounter(config.tick_period_s)
        self.action: np.ndarray = NEUTRAL_ACTION.copy()
        # Which controller drives each tick: the main one (`action`) unless a person took over (eval).
        # Half of the release time's ticks: a loaded sim that skips some still hands back on time.
        release_ticks = round(0.5 * RELEASE_S / config.tick_period_s) if config.tick_period_s > 0 else 0
        self.handover = Handover(NEUTRAL_ACTION, clock=clock, say=say, release_ticks=release_ticks)
        self.intervention = False  # a person drives the step about to be taken
        self.human_ignored = 0  # a person's actions outside a running attempt (nothing to drive)
        self.served_tick: int | None = None  # the tick of the newest frame emitted
        self.stale_takeovers = 0  # takeovers refused because they continued an older frame
        self.obs: Observation = sim.reset(placement=self.machine.saved_episodes)
        self.episode_start = clock()
        self.phase_frames = 0  # frames emitted in a done/resetting phase (for frame_index there)
        self.answers = AnswerCounter()
        self.first_frame = True

    def serve_tick(self, sent_at: datetime | None, emit: Callable[[Frame], None]) -> None:
        """One timer tick: skip it when stale, else emit its frame and step the world.

        The tick grid restarts after the first frame is emitted: dora's first send blocks ~1 s."""
        if tick_is_stale(sent_at, datetime.now(UTC), self.config.tick_period_s):
            return
        emit(self.tick())
        if self.first_frame:
            self.ticks.restart()
            self.first_frame = False
        self.advance()

    def set_action(self, action: np.ndarray, answers_tick: int | None = None) -> None:
        """Hold a new action, clamped to the commandable workspace; a non-finite one is not held.

        An action outside the workspace (by more than `ACTION_SLACK`) or not finite is reported to
        `problem`, by kind. `answers_tick`: the tick index of the frame the controller computed it from,
        when it says so (the policy node does); then every step counts whether its action answered the
        previous frame.
        """
        held = self._checked(action)
        if held is None:
            return
        self.handover.on_policy(held, answers_tick)
        if not self.handover.human:
            self.action = self.handover.policy_action.copy()
        self.answers.on_action(answers_tick)

    def set_human_action(self, action: np.ndarray, continues_tick: int | None = None) -> None:
        """A person's action (the eval's takeover input): they drive from the next tick on, while an
        attempt runs; outside one there is nothing to drive and it is only counted.

        `continues_tick`: the frame whose target the keys started from, when the sender says so. A
        takeover that starts from an older frame than the newest one is refused: the policy has moved
        the target since, and taking it would jump back. The keyboard starts again from the next frame
        (a few milliseconds later), which it receives before the sim's next tick.
        """
        m = self.machine
        if m.phase is not Phase.RUNNING or m.end_reason is not EndReason.NONE:
            self.human_ignored += 1
            return
        if (
            not self.handover.human
            and continues_tick is not None
            and self.served_tick is not None
            and continues_tick < self.served_tick
        ):
            self.stale_takeovers += 1
            return
        held = self._checked(action)
        if held is not None:
            self.handover.on_human(held, f" in attempt {m.episode_index} at frame {m.steps}")

    def _checked(self, action: np.ndarray) -> np.ndarray | None:
        """The action clamped to the commandable workspace, its problem reported by kind; None (not
        held) when it is not finite."""
        problem = action_problem(action)
        if problem is not None:
            kind, message = problem
            if kind == "non_finite":
                self.problem(kind, f"{message}: keeping the last action")
                return None
            self.problem(kind, message)
        return clamp_action(action)

    @property
    def stopped(self) -> bool:
        return self.machine.stopped

    def control(self, command: Control) -> None:
        effect = self.machine.control(command)
        self.phase_frames = 0
        if effect.reset_env:
            self.obs = self.sim.reset(placement=self.machine.saved_episodes)
            self._neutral()
        if effect.start_episode:
            self._neutral()
            self.episode_start = self.clock()

    def _neutral(self) -> None:
        """A new scene or attempt starts from the neutral action, driven by the main controller."""
        was_human = self.handover.human
        self.handover.reset()
        if was_human:
            self.handover.say("the attempt ended during a takeover: the policy starts the next one")
        self.action = NEUTRAL_ACTION.copy()
        self.intervention = False

    def tick(self) -> Frame:
        """Emit this tick's frame; call `advance()` after sending it."""
        now = self.clock()
        tick_index, missed = self.ticks.serve(now)
        self.served_tick = tick_index
        m = self.machine
        obs = self.obs
        self.answers.on_frame(tick_index, first=m.phase is Phase.RUNNING and m.steps == 0)
        if m.phase is Phase.RUNNING and m.end_reason is EndReason.NONE:
            where = f" (attempt {m.episode_index}, frame {m.steps})"
            self.action, self.intervention = self.handover.drive(tick_index, where)
        else:  # frozen: the frame shows what the main controller holds
            self.action, self.intervention = self.handover.policy_action.copy(), False
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
            intervention=self.intervention,
        )

    def advance(self) -> None:
        """Step the world with the held action while the attempt runs; done/resetting stay frozen."""
        if self.machine.phase is Phase.RUNNING and self.machine.end_reason is EndReason.NONE:
            if not self.intervention:  # only the policy's steps say whether it kept up
                self.answers.on_step()
            self.obs = self.sim.step(self.action)
            if self.on_step is not None:
                self.on_step()
