"""The autopilot's session, free of dora: the scripted expert drives the sim's episode loop unattended.

It mirrors `eval.session` (a policy drives): frames in, `(output, payload, metadata)` out, the same
warm-up and auto-advance. The expert itself (`control.expert`) only turns observations into actions;
this module decides when attempts start and end, what the console says per episode, how many ticks the
pipeline served, and runs the whole loop in process for benchmarks (`run_in_process`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim_teleop.config import DEFAULT_FPS, Config, RunConfig, setting
from sim_teleop.control.advance import AutoAdvance
from sim_teleop.control.defects import DefectConfig, EpisodePlan, plan_for_episode
from sim_teleop.control.expert import AutopilotController, ExpertObservation, ExpertParams
from sim_teleop.control.operator import OPERATORS, make_operator
from sim_teleop.follower import Ended, EpisodeFollower, Started
from sim_teleop.messages import (
    ACTION,
    ANNOTATION,
    CONTROL,
    CONTROLLER_DONE,
    STATE_TCP,
    Control,
    EndReason,
    Frame,
    Output,
    Phase,
    encode_action,
    encode_annotation,
    encode_control,
    warmup_outputs,
)
from sim_teleop.sim.clock import TickCounter


@dataclass(slots=True)
class AttemptReport:
    """The expert's console line and summary row for one attempt that ended with a saved reason."""

    episode_index: int  # the sim's attempt index
    end_reason: EndReason
    steps: int  # running frames of the attempt
    elapsed_s: float  # wall time from its first running frame to its end frame
    defects: list[dict[str, Any]] = field(default_factory=list)
    regrasps: int = 0

    @property
    def success(self) -> bool:
        return self.end_reason is EndReason.SUCCESS

    def line(self, number: int, total: int) -> str:
        names = ",".join(f"{d['family']}:{d['severity']:.2f}" for d in self.defects) or "none"
        return (
            f"[expert] episode {number}/{total} (sim attempt {self.episode_index}): "
            f"success={self.success} reason={self.end_reason.value} steps={self.steps} "
            f"elapsed={self.elapsed_s:.1f}s defects={names}"
        )


@dataclass(frozen=True)
class AutopilotConfig(Config):
    """The expert node's settings: episode count (default: the run's, so expert and recorder stop at
    the same count), variation seed, the tick period it counts served ticks against."""

    episodes: int = setting(10, env="AUTOPILOT_EPISODES", min=1)
    seed: int = setting(0, env="AUTOPILOT_SEED", min=0)
    tick_s: float = setting(1.0 / DEFAULT_FPS, min=0.0)  # the run's (RunConfig.tick_period_s), set by `load`
    stats_path: str = setting("", env="AUTOPILOT_STATS")  # per-episode results as JSON (benchmarks)
    stops_sim: bool = setting(False, env="AUTOPILOT_STOPS_SIM")  # send `stop` itself after the last one
    # who drives: the scripted expert, or the expert through the human or keyboard operator model
    operator: str = setting("expert", env="AUTOPILOT_OPERATOR", choices=OPERATORS)

    @classmethod
    def load(cls) -> AutopilotConfig:
        run = RunConfig.load()
        return cls.from_dict({"episodes": run.num_episodes, "tick_s": run.tick_period_s}, where="autopilot")


@dataclass(slots=True)
class TickStats:
    """Frames seen, and how many ticks the pipeline served, from the frames' arrival times.

    The tick grid is counted by a `TickCounter` at the known tick period over the frames' arrivals, so
    it does not depend on the sim's own count (which assumes SIM_FPS ticks a second).
    """

    period_s: float = 1.0 / DEFAULT_FPS
    running_frames: int = 0
    sim_ticks_missed: int = 0  # the sim's own count, from the latest frame
    first_arrival: float | None = None
    last_arrival: float = 0.0
    ticks: TickCounter = field(init=False)

    def __post_init__(self) -> None:
        self.ticks = TickCounter(self.period_s)

    def update(self, frame: Frame, arrival: float) -> None:
        self.ticks.serve(arrival)
        self.running_frames += frame.phase is Phase.RUNNING
        self.sim_ticks_missed = frame.ticks_missed
        if self.first_arrival is None:
            self.first_arrival = arrival
        self.last_arrival = arrival

    @property
    def frames(self) -> int:
        return self.ticks.served

    @property
    def ticks_expected(self) -> int:
        return self.ticks.expected

    @property
    def served_fraction(self) -> float:
        return self.frames / self.ticks_expected if self.ticks_expected else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tick_ms": round(self.period_s * 1000, 3),
            "frames": self.frames,
            "running_frames": self.running_frames,
            "ticks_expected": self.ticks_expected,
            "ticks_served": round(self.served_fraction, 5),
            "sim_ticks_missed": self.sim_ticks_missed,
            "wall_s": round(self.last_arrival - (self.first_arrival or self.last_arrival), 3),
        }


class AutopilotSession:
    """Drives the sim's episode loop: act while running, `next` through done and resetting, `stop` at N.

    Keyed on the frames' `episode_index`/`phase`/`end_reason` (through `EpisodeFollower`) rather than on
    arrival order, so a dropped or repeated frame changes nothing; `AutoAdvance` sends the commands.
    """

    def __init__(
        self,
        episodes: int,
        seed: int = 0,
        defects: DefectConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        report: Callable[[str], None] = print,
        tick_s: float = 1.0 / DEFAULT_FPS,
        stop_sim: bool = True,
        operator: str = "expert",
    ) -> None:
        """`stop_sim=False` (the autopilot dataflow): after the last attempt send no `stop` but a
        `controller_done` annotation and leave the sim idle in resetting, so the recorder, which may
        still be committing a backlog, ends the run when it is done instead of being cut off.
        `operator`: drive the expert through an operator model (`OPERATORS`; clean demonstrations)."""
        self.advance = AutoAdvance(episodes)
        self.follower = EpisodeFollower()
        self.episodes = episodes
        self.stop_sim = stop_sim
        self.operator = operator
        self.seed = seed
        self.defects = defects
        self.clock = clock
        self.report = report
        self.results: list[AttemptReport] = []
        self.stats = TickStats(period_s=tick_s)
        self.stopped = False
        self._controller: AutopilotController | None = None
        self._plan: EpisodePlan | None = None
        self._attempt_start = 0.0

    def warmup(self) -> list[Output]:
        return warmup_outputs()

    def on_frame(self, frame: Frame) -> list[Output]:
        self.stats.update(frame, self.clock())
        if self.stopped:
            return []
        out: list[Output] = []
        events = self.follower.feed(frame)
        for ev in events:
            if isinstance(ev, Started):
                out.append(self._start_attempt(frame))
            elif isinstance(ev, Ended):
                self._finish_attempt(ev)
        if frame.phase is Phase.RUNNING and frame.end_reason is EndReason.NONE:
            if self._controller is not None:
                action = self._controller.act(frame.frame_index, ExpertObservation.from_frame(frame))
                out.append((ACTION, encode_action(action), None))
            return out
        self.advance.observe(events)
        if self.advance.finished(frame) and not self.stop_sim:
            self.stopped = True
            return [(ANNOTATION, encode_annotation(frame.episode_index, {CONTROLLER_DONE: True}), None)]
        command = self.advance.on_frame(frame)
        if command is not None:
            out.append((CONTROL, encode_control(command), None))
            self.stopped = command is Control.STOP
        return out

    def _start_attempt(self, frame: Frame) -> Output:
        idx = frame.episode_index
        self._attempt_start = self.clock()
        start_tcp = np.asarray(frame.state[STATE_TCP], dtype=np.float64)
        defects_seed = self.defects.seed if self.defects is not None else 0
        self._plan = plan_for_episode(self.defects, defects_seed, idx)
        params = ExpertParams.sample(self.seed, idx)
        operator = make_operator(self.operator, self.seed, idx)
        self._controller = AutopilotController(params, start_tcp, self._plan, defects_seed, operator)
        return (ANNOTATION, encode_annotation(idx, self._plan.annotation()), None)

    def _finish_attempt(self, ended: Ended) -> None:
        if not ended.reason.saved:
            return
        plan = self._plan
        controller = self._controller
        result = AttemptReport(
            episode_index=ended.episode,
            end_reason=ended.reason,
            steps=ended.steps,
            elapsed_s=self.clock() - self._attempt_start,
            defects=plan.annotation()["defects"] if plan is not None else [],
            regrasps=controller.expert.regrasps if controller is not None else 0,
        )
        self.results.append(result)
        self.report(result.line(len(self.results), self.episodes))

    def summary(self) -> dict[str, Any]:
        n = len(self.results)
        ok = sum(r.success for r in self.results)
        return {
            "episodes": n,
            "successes": ok,
            "success_rate": ok / n if n else 0.0,
            "mean_steps": float(np.mean([r.steps for r in self.results])) if n else 0.0,
            **self.stats.to_dict(),
        }


def run_in_process(
    episodes: int,
    seed: int = 0,
    sim_seed: int = 0,
    defects: DefectConfig | None = None,
    image_obs: bool = False,
    time_limit_s: float = 20.0,
    on_frame: Callable[[Frame], None] | None = None,
    operator: str = "expert",
) -> AutopilotSession:
    """Run the autopilot against an in-process sim with the dataflow's timing, no dora, no wall clock.

    Each tick the sim emits a frame and steps, and the expert's answer to that frame is applied from
    the next step on: the one-frame latency of the real dataflow. `image_obs=False` is physics only
    (~7 ms a step). Camera defects are not applied here (the sim node does that).
    """
    from sim_teleop.messages import decode_action, decode_control
    from sim_teleop.sim.env import SimEnv
    from sim_teleop.sim.runner import SimConfig, SimRunner

    sim_time = [0.0]

    def clock() -> float:
        return sim_time[0]

    config = SimConfig(seed=sim_seed, time_limit_s=time_limit_s)
    sim = SimEnv(config.env_id, seed=sim_seed, image_obs=image_obs)
    try:
        runner = SimRunner(sim, config, clock=clock)
        session = AutopilotSession(
            episodes,
            seed,
            defects,
            clock=clock,
            report=lambda _line: None,
            tick_s=1.0 / config.fps,
            operator=operator,
        )
        # Bounded: every attempt ends by its time limit, plus a few frames of done/resetting each.
        max_ticks = (config.max_steps + 50) * (episodes + 1)
        for _ in range(max_ticks):
            if session.stopped:
                break
            frame = runner.tick()
            runner.advance()
            sim_time[0] += 1.0 / config.fps
            if on_frame is not None:
                on_frame(frame)
            for output, payload, _ in session.on_frame(frame):
                if output == ACTION:
                    runner.set_action(decode_action(payload))
                elif output == CONTROL:
                    runner.control(decode_control(payload))
        return session
    finally:
        sim.close()
