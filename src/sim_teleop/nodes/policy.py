"""dora node: a trained lerobot policy drives the sim, and the eval auto-advances and is summarised.

Input: `frame` (from sim/frame). Outputs: `action` (absolute target offset + gripper, as recorded) and
`control` (`next` through done and resetting, `stop` after EVAL_EPISODES episodes).

The checkpoint is checked and loaded before this node registers with dora, so a missing or mismatched
checkpoint fails the dataflow before the sim steps once. The sim steps on its own timer and applies the
latest action it holds: when an inference is slow, the frames that queued meanwhile are only
book-kept and the next action is computed from the newest of them (sim_teleop.eval.session).

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

from sim_teleop.config import ConfigError
from sim_teleop.control.policy import PolicyError, PolicyRunner
from sim_teleop.eval.session import EvalSession
from sim_teleop.eval.settings import EvalSettings
from sim_teleop.eval.summary import format_summary, write_summary
from sim_teleop.messages import FRAME, Frame, decode_frame
from sim_teleop.nodes.serve import Serve, connect, log

NAME = "policy"


def _load(settings: EvalSettings) -> PolicyRunner:
    """The checkpoint's policy, warmed up, with one line on what was loaded."""
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
    return runner


def main(node: Any = None, runner: Any = None) -> None:
    """`runner` may be injected by a test (anything with reset/act/warm_up); by default the checkpoint's."""
    try:
        settings = EvalSettings.from_env()
        if runner is None:
            runner = _load(settings)
    except (PolicyError, ConfigError) as exc:
        log(NAME, f"error: {exc}")
        # Register before leaving; registered, its closed `action` output stops the sim cleanly.
        connect(node)
        sys.exit(2)
    log(NAME, f"eval: {settings.episodes} episodes; summary -> {settings.output_dir}")

    serve = Serve(NAME, node)
    session = EvalSession(
        runner, settings.episodes, settings.fps, settings.tick_period_s, serve.log, serve.problems
    )
    for output in session.warmup():
        serve.send(*output)
    frames: list[Frame] = []

    def act() -> None:  # on the frames of a batch together, the one that stops included
        for output in session.on_frames(frames):
            serve.send(*output)
        frames.clear()

    serve.on(FRAME, lambda frame, _event: frames.append(frame), decode_frame)
    serve.run(catch_up=lambda: session.catching_up, after=act)

    summary = session.summary(str(getattr(runner, "path", "")))
    print(format_summary(summary), flush=True)
    serve.log(session.latency_line())
    serve.finish()
    if summary["episodes"] or summary["stop_sent"]:
        serve.log(f"summary written to {write_summary(summary, settings.output_dir)}")


if __name__ == "__main__":
    main()
