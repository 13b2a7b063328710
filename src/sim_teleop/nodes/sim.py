"""dora node: the gym-hil simulator, stepped on timer ticks with the latest action it holds.

Inputs: `tick` (dora timer), `action`, `control` and any input whose id starts with `control`.
Output: `frame`, one per tick in every phase. Exits when it receives `stop`, which closes every
downstream input so the whole dataflow ends by itself.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Any

from sim_teleop.config import ConfigError
from sim_teleop.control.defects import CameraDefects
from sim_teleop.messages import (
    ACTION,
    CONTROL,
    FRAME,
    TICK,
    MessageError,
    decode_action,
    decode_control,
    encode_frame,
)
from sim_teleop.nodes.serve import OnceLogger, exit_now, log
from sim_teleop.sim.env import SimEnv, ensure_offscreen_gl
from sim_teleop.sim.runner import SimConfig, SimRunner, tick_is_stale

NAME = "sim"
GONE_MEANS_STOP = {ACTION: "the controller", "control_recorder": "the recorder"}
"""Inputs whose source never leaves before the sim in a healthy run (the keyboard's `control` may:
it steps aside in the eval dataflow)."""


def _open_viewer(sim: SimEnv, mode: str) -> Any | None:
    """A passive MuJoCo viewer window when asked for (or `auto` and a display exists)."""
    if mode == "0" or (mode == "auto" and not os.environ.get("DISPLAY")):
        return None
    import mujoco.viewer

    return mujoco.viewer.launch_passive(sim.model, sim.data, show_left_ui=False, show_right_ui=False)


def _answered_tick(event: dict) -> int | None:
    """The tick of the frame an action answers, when its sender stamped it (metadata `tick`)."""
    value = (event.get("metadata") or {}).get(TICK)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def main(node: Any = None) -> None:
    try:
        config = SimConfig.from_env()
        camera_defects = CameraDefects.from_env()  # DEFECTS_CONFIG: the expert's ground truth, in the images
    except ConfigError as exc:
        log(NAME, f"configuration error: {exc}")
        sys.exit(2)
    gl = ensure_offscreen_gl()
    sim = SimEnv(config.env_id, seed=config.seed, fast_render=config.fast_render)
    viewer = None
    try:
        viewer = _open_viewer(sim, config.viewer)
    except Exception as exc:  # no usable display: keep going headless
        log(NAME, f"viewer unavailable ({exc}); continuing without a window")
    mode = "MuJoCo viewer window" if viewer is not None else f"offscreen rendering (MUJOCO_GL={gl})"
    log(
        NAME, f"{config.env_id}, seed {config.seed}, {config.fps} Hz, {config.time_limit_s:g} s limit: {mode}"
    )

    runner = SimRunner(sim, config, on_step=viewer.sync if viewer is not None else None)
    problems = OnceLogger(lambda msg: log(NAME, msg))

    if node is None:
        from dora import Node

        node = Node()
    first_frame = True
    for event in node:
        if event["type"] == "STOP":
            break
        if event["type"] == "INPUT_CLOSED" and event.get("id") in GONE_MEANS_STOP:
            # Controller and recorder only go before the sim when they failed (a missing display or
            # checkpoint, a crash): ticking on would drive or record nothing.
            log(NAME, f"{GONE_MEANS_STOP[event['id']]} has gone: stopping")
            break
        if event["type"] != "INPUT":
            continue
        input_id = event["id"]
        if input_id == TICK:
            sent_at = (event.get("metadata") or {}).get("timestamp")
            if tick_is_stale(sent_at, datetime.now(UTC), config.tick_period_s):
                continue
            node.send_output(FRAME, encode_frame(camera_defects.apply(runner.tick())))
            if first_frame:
                runner.ticks.restart()
                first_frame = False
            runner.advance()
        elif input_id == ACTION:
            try:
                runner.set_action(decode_action(event["value"]), _answered_tick(event))
            except MessageError as exc:
                problems(f"{input_id}:{exc.kind}", f"ignored bad {input_id}: {exc}; keeping last action")
        elif input_id.startswith(CONTROL):
            try:
                command = decode_control(event["value"])
            except MessageError as exc:
                problems(f"{input_id}:{exc.kind}", f"ignored bad {input_id}: {exc}")
                continue
            runner.control(command)
            if runner.stopped:
                log(NAME, f"stop received on {input_id}")
                break
    if problems.counts:
        log(NAME, f"bad messages ignored: {problems.summary()}")
    if runner.answers.steps:
        steps, late = runner.answers.steps, runner.answers.late
        period_ms = 1000 * config.tick_period_s
        log(
            NAME,
            f"{steps} controller steps: {steps - late} on the answer to the previous frame, {late} on an "
            f"older action (inference overran the {period_ms:g} ms tick)",
        )
    if viewer is not None:
        # Closing MuJoCo's passive viewer (its render thread and GLFW context) while the model goes
        # away segfaulted the sim in 2 of 4 runs at Esc, so the dataflow ended with exit 1. Nothing is
        # left to save here: leave without the native teardown; the OS frees the window.
        exit_now(0)
    sim.close()


if __name__ == "__main__":
    main()
