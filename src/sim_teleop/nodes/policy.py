"""dora node: a trained lerobot policy drives the sim, and the eval auto-advances and is summarised.

Input: `frame` (from sim/frame). Outputs: `action` (absolute target offset + gripper, as recorded) and
`control` (`next` through done and resetting, `stop` after EVAL_EPISODES episodes).

The checkpoint is checked and loaded before this node registers with dora, so a missing or mismatched
checkpoint fails the dataflow before the sim steps once. The sim steps on its own timer and applies the
latest action it holds: when an inference is slow, the frames that queued meanwhile are only
book-kept and the next action is computed from the newest of them.

Env: POLICY_CHECKPOINT (default outputs/train/act_cpu/checkpoints/last/pretrained_model), POLICY_DEVICE
(cpu), POLICY_THREADS (1; 0 = torch's default), POLICY_N_ACTION_STEPS (actions per inference; default
as trained), EVAL_EPISODES (50), EVAL_OUTPUT (where
eval_summary.json goes; default: the recorder's root, from RECORD_CONFIG/RECORD_ROOT), SIM_FPS (10),
EVAL_TICK_MS (the tick period, 1000 / SIM_FPS), POLICY_TEMPORAL_ENSEMBLE (ACT temporal-ensembling
coefficient; off by default).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from sim_teleop.config import ConfigError
from sim_teleop.control.policy import (
    EvalController,
    EvalSettings,
    PolicyError,
    PolicyRunner,
    frame_observation,
    latency_stats,
)
from sim_teleop.eval.summary import EvalTracker, format_summary, summarize, write_summary
from sim_teleop.messages import (
    ACTION,
    CONTROL,
    FRAME,
    TICK,
    Control,
    MessageError,
    Phase,
    decode_frame,
    encode_action,
    encode_control,
)
from sim_teleop.nodes.serve import OnceLogger, log
from sim_teleop.sim.env import NEUTRAL_ACTION

NAME = "policy"


def main(node: Any = None, runner: Any = None) -> None:
    """`runner` may be injected by a test (anything with reset/act/warm_up); by default the checkpoint's."""
    try:
        settings = EvalSettings.from_env()
        if runner is None:
            t0 = time.perf_counter()
            runner = PolicyRunner(
                settings.checkpoint,
                device=settings.device,
                threads=settings.threads,
                n_action_steps=settings.n_action_steps,
                temporal_ensemble=settings.temporal_ensemble,
            )
            warm = runner.warm_up()
            log(
                NAME,
                f"loaded {runner.policy_type} from {runner.path} in {time.perf_counter() - t0:.1f} s "
                f"(first inference {1000 * warm:.0f} ms)",
            )
            if runner.gripper_scale != 1.0:
                log(NAME, "note: trained on the old 0..255 gripper state; the sim's 0..1 is rescaled for it")
    except (PolicyError, ConfigError) as exc:
        log(NAME, f"error: {exc}")
        if node is None:
            # Register before leaving: a node that never reaches Node() makes every peer fail to start
            # (a traceback each); registered, its closed `action` output stops the sim cleanly.
            from dora import Node

            Node()
        sys.exit(2)
    log(NAME, f"eval: {settings.episodes} episodes; summary -> {settings.output_dir}")

    if node is None:
        from dora import Node

        node = Node()
    node.send_output(ACTION, encode_action(NEUTRAL_ACTION))  # warm-up: the first send is slow

    controller = EvalController(settings.episodes)
    tracker = EvalTracker(fps=settings.fps)
    problems = OnceLogger(lambda msg: log(NAME, msg))
    period = settings.tick_period_s  # an answer later than this misses the next tick
    latencies: list[float] = []
    running_frames = 0
    stale_frames = 0
    slow = False  # the last inference overran a tick: catch up on queued frames before acting again
    stopping = False
    first_frame_at = last_frame_at = 0.0  # wall clock of the first and the latest frame (throughput)

    while not stopping:
        event = node.next()
        if event is None:
            break
        batch = [event]
        while slow and batch[-1]["type"] == "INPUT":
            more = node.try_recv()
            if more is None:
                break
            batch.append(more)
        pending = None
        for ev in batch:
            if ev["type"] == "STOP":
                stopping = True
                break
            if ev["type"] != "INPUT" or ev["id"] != FRAME:
                continue
            try:
                frame = decode_frame(ev["value"])
            except MessageError as exc:
                problems(f"frame:{type(exc).__name__}", f"ignored bad frame: {exc}")
                continue
            tracker.observe(frame)
            last_frame_at = time.monotonic()
            first_frame_at = first_frame_at or last_frame_at
            decision = controller.on_frame(frame)
            if decision.control is not None:
                node.send_output(CONTROL, encode_control(decision.control))
                if decision.control is Control.STOP:
                    log(NAME, f"{controller.saved_episodes} episodes finished: sending stop")
                elif frame.phase is not Phase.RESETTING:  # the end's `next`: one line per episode
                    log(
                        NAME,
                        f"attempt {frame.episode_index} ended: {frame.end_reason.value} "
                        f"({controller.saved_episodes}/{settings.episodes} episodes)",
                    )
            if decision.reset:
                runner.reset()
            if frame.phase is Phase.RUNNING and frame.end_reason.value == "":
                running_frames += 1
            if pending is not None:
                stale_frames += 1  # a newer frame arrived before we acted on this one
            pending = frame if decision.act else None
        if pending is None:
            continue
        t0 = time.perf_counter()
        try:
            action = runner.act(frame_observation(pending))
        except PolicyError as exc:
            problems("act", f"{exc}; holding the last action")
            action = None
        if action is not None:
            # Stamped with the frame it answers, so the sim can count steps that ran on an older action.
            node.send_output(
                ACTION, encode_action(np.asarray(action, dtype=np.float32)), {TICK: pending.tick_index}
            )
        dt = time.perf_counter() - t0
        latencies.append(dt)
        slow = dt > 0.5 * period

    results = tracker.results()
    stats = latency_stats(latencies)
    extra = {
        "checkpoint": str(getattr(runner, "path", "")),
        "policy_steps": len(latencies),
        "running_frames": running_frames,
        "frames_without_fresh_action": stale_frames,
        "tick_ms": 1000 * period,
        "wall_s": last_frame_at - first_frame_at,
        "late_actions": sum(1 for t in latencies if t > period),  # the sim stepped once more on the old one
        "latency_ms": stats,
        "stop_sent": controller.stop_sent,
    }
    summary = summarize(results, settings.fps, extra=extra)
    print(format_summary(summary), flush=True)
    log(
        NAME,
        f"policy step latency p50 {stats['p50']:.1f} ms, p99 {stats['p99']:.1f} ms over {len(latencies)} "
        f"steps; {stale_frames} of {running_frames} running frames had no fresh action",
    )
    if problems.counts:
        log(NAME, f"bad messages ignored: {problems.summary()}")
    if results or controller.stop_sent:
        path = write_summary(summary, settings.output_dir)
        log(NAME, f"summary written to {path}")


if __name__ == "__main__":
    main()
