"""A policy drives an unattended eval: frames in, actions and commands out, free of dora.

The sim steps on its own timer and applies the latest action it holds. An inference slower than half
a tick makes frames queue meanwhile: the caller then hands them over as one batch (`catching_up`),
every frame of it is book-kept (episode results, auto-advance commands, policy resets) and only the
newest frame still due an action is acted on, so the policy stops answering frames the sim has left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sim_teleop.control.policy import Policy, PolicyError, frame_observation
from sim_teleop.eval.controller import EvalController
from sim_teleop.eval.summary import EvalTracker, latency_stats, summarize
from sim_teleop.messages import (
    ACTION,
    CONTROL,
    TICK,
    Control,
    Frame,
    Output,
    Phase,
    encode_action,
    encode_control,
    warmup_outputs,
)


class EvalSession:
    """Episode auto-advance, results and the catch-up of a slow policy, one batch of frames at a time."""

    def __init__(
        self,
        policy: Policy,
        episodes: int,
        fps: int,
        tick_period_s: float,
        log: Callable[[str], None],
        problem: Callable[[str, str], None],
        timer: Callable[[], float] = time.perf_counter,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.controller = EvalController(episodes)
        self.tracker = EvalTracker(fps=fps)
        self.fps = fps
        self.period = tick_period_s  # an answer later than this misses the next tick
        self.log = log
        self.problem = problem  # OnceLogger-like: (key, message)
        self.timer = timer
        self.wall = wall
        self.latencies: list[float] = []
        self.running_frames = 0
        self.stale_frames = 0  # frames a newer one overtook before an action answered them
        self.catching_up = False  # the last inference overran half a tick: hand over queued frames together
        self.first_frame_at = self.last_frame_at = 0.0  # wall clock of the first and latest frame

    def warmup(self) -> list[Output]:
        return warmup_outputs()

    def on_frames(self, frames: Sequence[Frame]) -> list[Output]:
        """Book-keep every frame, then act once, on the newest frame still due an action."""
        out: list[Output] = []
        pending: Frame | None = None
        for frame in frames:
            act = self._follow(frame, out)
            if pending is not None:
                self.stale_frames += 1  # a newer frame arrived before we acted on this one
            pending = frame if act else None
        if pending is not None:
            out += self._act(pending)
        return out

    def _follow(self, frame: Frame, out: list[Output]) -> bool:
        """Results, commands and policy resets for one frame; True when an action is due for it."""
        self.tracker.observe(frame)
        self.last_frame_at = self.wall()
        self.first_frame_at = self.first_frame_at or self.last_frame_at
        decision = self.controller.on_frame(frame)
        if decision.control is not None:
            out.append((CONTROL, encode_control(decision.control), None))
            if decision.control is Control.STOP:
                self.log(f"{self.controller.saved_episodes} episodes finished: sending stop")
            elif frame.phase is not Phase.RESETTING:  # the end's `next`: one line per episode
                self.log(
                    f"attempt {frame.episode_index} ended: {frame.end_reason.value} "
                    f"({self.controller.saved_episodes}/{self.controller.episodes} episodes)"
                )
        if decision.reset:
            self.policy.reset()
        if decision.act:  # a running frame the policy drives (a person's frames are not its to answer)
            self.running_frames += 1
        return decision.act

    def _act(self, frame: Frame) -> list[Output]:
        t0 = self.timer()
        try:
            action = self.policy.act(frame_observation(frame))
        except PolicyError as exc:
            self.problem("act", f"{exc}; holding the last action")
            action = None
        dt = self.timer() - t0
        self.latencies.append(dt)
        self.catching_up = dt > 0.5 * self.period
        if action is None:
            return []
        # Stamped with the frame it answers, so the sim can count steps that ran on an older action.
        payload = encode_action(np.asarray(action, dtype=np.float32))
        return [(ACTION, payload, {TICK: frame.tick_index})]

    def summary(self, checkpoint: str) -> dict[str, Any]:
        """The eval summary: per-episode results plus how the policy kept up with the tick."""
        extra = {
            "checkpoint": checkpoint,
            "policy_steps": len(self.latencies),
            "running_frames": self.running_frames,
            "frames_without_fresh_action": self.stale_frames,
            "tick_ms": 1000 * self.period,
            "wall_s": self.last_frame_at - self.first_frame_at,
            "late_actions": sum(
                1 for t in self.latencies if t > self.period
            ),  # the sim stepped on the old one
            "latency_ms": latency_stats(self.latencies),
            "stop_sent": self.controller.stop_sent,
        }
        return summarize(self.tracker.results(), self.fps, extra=extra)

    def latency_line(self) -> str:
        stats = latency_stats(self.latencies)
        return (
            f"policy step latency p50 {stats['p50']:.1f} ms, p99 {stats['p99']:.1f} ms over "
            f"{len(self.latencies)} steps; {self.stale_frames} of {self.running_frames} running frames "
            "had no fresh action"
        )
