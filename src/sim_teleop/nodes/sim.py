"""dora node: the gym-hil simulator, stepped on timer ticks with the latest action it holds.

Inputs: `tick` (dora timer), `action`, `control` and any input whose id starts with `control`; in the
eval, `action_human`: a person's (or the corrector's) target, which takes over from the policy
(sim_teleop.sim.handover decides who drives each tick and stamps the frame's `intervention`).
Outputs: `frame`, one per tick in every phase; `last_frame` (when declared), the sequence number of the
last frame, sent as the sim stops. Exits when it receives `stop`, which closes every
downstream input so the whole dataflow ends by itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from sim_teleop.config import ConfigError
from sim_teleop.control.defects import CameraDefects
from sim_teleop.messages import (
    ACTION,
    ACTION_HUMAN,
    CONTROL,
    FRAME,
    LAST_FRAME,
    TAKEOVER,
    TICK,
    WARM_UP,
    Control,
    Frame,
    decode_action,
    decode_control,
    decode_tick,
    encode_frame,
    encode_tick,
)
from sim_teleop.nodes.serve import OnceLogger, Serve, exit_now, log
from sim_teleop.sim.env import SimEnv, ensure_offscreen_gl
from sim_teleop.sim.runner import SimConfig, SimRunner, answered_tick
from sim_teleop.sim.watchdog import ConsumerWatch

NAME = "sim"
GONE_MEANS_STOP = {
    TICK: "the clock",
    ACTION: "the controller",
    "control_recorder": "the recorder",
    "recorder_progress": "the recorder",
    "scorer_quality": "the scorer",
}
"""Inputs whose source never leaves before the sim in a healthy run (the keyboard's `control` may:
it steps aside in the eval dataflow). `scorer_quality` is there only for this: the sim ignores the
reports, but the input closes when the scorer dies."""


def _open_viewer(sim: SimEnv, mode: str) -> Any | None:
    """A passive MuJoCo viewer window when asked for (or `auto` and a display exists)."""
    if mode == "0" or (mode == "auto" and not os.environ.get("DISPLAY")):
        return None
    import mujoco.viewer

    return mujoco.viewer.launch_passive(sim.model, sim.data, show_left_ui=False, show_right_ui=False)


def _start(config: SimConfig, actions: OnceLogger) -> tuple[SimRunner, Any | None]:
    """The simulator, with a viewer window when asked for and possible; logs how it renders.
    `actions` logs each kind of out-of-range action once and counts them."""
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
    on_step = viewer.sync if viewer is not None else None
    runner = SimRunner(sim, config, on_step=on_step, problem=actions, say=lambda line: log(NAME, line))
    return runner, viewer


def _human_input(runner: SimRunner, ticks: _Ticks) -> Callable[[Any, dict], None]:
    """The takeover input's handler: a person's action, unless it is a warm-up (it only opens the
    channel: dora's first send is slow); a takeover's tick that came before it is served now."""

    def on_human(action: Any, event: dict) -> None:
        if not (event.get("metadata") or {}).get(WARM_UP):
            runner.set_human_action(action, answered_tick(event.get("metadata")))
            ticks.serve_held()

    return on_human


def _end_lines(runner: SimRunner, period_s: float) -> list[str]:
    """The run's last lines: takeovers, and how the controller kept up with the tick."""
    lines = []
    if runner.handover.takeovers or runner.human_ignored:
        lines.append(
            f"{runner.handover.takeovers} takeovers by a person; {runner.human_ignored} of their actions "
            "came while no attempt ran (ignored)"
        )
    if runner.stale_takeovers:
        lines.append(
            f"{runner.stale_takeovers} takeover starts continued an older frame than the newest (refused: "
            "the keys started again from the next frame)"
        )
    answers = runner.answers.summary(period_s)
    if answers:
        lines.append(answers)
    return lines


class _Ticks:
    """Serves each tick, unless the recorder has stalled: then the run ends, non-zero (sim.watchdog)."""

    def __init__(self, serve: Serve, runner: SimRunner, defects: CameraDefects, watch: ConsumerWatch) -> None:
        self.serve = serve
        self.runner = runner
        self.defects = defects
        self.watch = watch
        self.failed = False
        self.sent_tick = 0
        self.last_seq: int | None = None
        self.held: dict | None = None  # metadata of a takeover's tick that overtook the person's action

    def send(self, frame: Frame) -> None:
        self.sent_tick = frame.tick_index
        self.last_seq = frame.seq
        self.serve.send(FRAME, encode_frame(self.defects.apply(frame)))

    def say_last_frame(self) -> None:
        """Tell the recorder which frame was the last (it checks that it received them all)."""
        if self.last_seq is not None and LAST_FRAME in self.serve.declared("outputs"):
            self.serve.send(LAST_FRAME, encode_tick(self.last_seq))

    def on_tick(self, _value: Any, event: dict) -> bool:
        silent = self.watch.stalled()
        if silent is not None:  # nobody records what we would simulate
            self.serve.log(self.watch.line(silent, self.sent_tick))
            self.failed = True
            return True
        metadata = event.get("metadata") or {}
        if metadata.get(TAKEOVER) and not self.runner.handover.human:
            # The clock ticks at once for a takeover (messages.TAKEOVER), on the keyboard's action; that
            # tick can reach us before the action itself: serve it when the action comes. A tick of the
            # grid that comes first replaces it (the action was for no running attempt).
            self.held = metadata
            return False
        self.held = None
        self.runner.serve_tick(metadata.get("timestamp"), self.send)
        return False

    def serve_held(self) -> None:
        """Serve a takeover's tick that was waiting for the person's action (`on_tick`)."""
        if self.held is not None and self.runner.handover.human:
            metadata, self.held = self.held, None
            self.runner.serve_tick(metadata.get("timestamp"), self.send)


def main(node: Any = None) -> None:
    try:
        config = SimConfig.from_env()
        camera_defects = CameraDefects.from_env()  # DEFECTS_CONFIG: the expert's ground truth, in the images
    except ConfigError as exc:
        log(NAME, f"configuration error: {exc}")
        sys.exit(2)
    actions = OnceLogger(lambda message: log(NAME, message))
    runner, viewer = _start(config, actions)
    serve = Serve(NAME, node)
    ticks = _Ticks(serve, runner, camera_defects, ConsumerWatch(config.stall_s))

    def on_control(command: Control, event: dict) -> bool:
        runner.control(command)
        if runner.stopped:
            serve.log(f"stop received on {event['id']}")
        return runner.stopped

    def on_gone(input_id: str) -> bool:
        # Controller, recorder, scorer and clock only go before the sim when they failed (a missing
        # display or checkpoint, a crash): ticking on would drive or record nothing.
        during = " during a takeover" if runner.handover.human else ""
        serve.log(f"{GONE_MEANS_STOP[input_id]} has gone{during}: stopping")
        return True

    serve.on(TICK, ticks.on_tick)
    serve.on(
        ACTION,
        lambda action, event: runner.set_action(action, answered_tick(event.get("metadata"))),
        decode_action,
        note="; keeping last action",
    )
    serve.on(ACTION_HUMAN, _human_input(runner, ticks), decode_action, note="; the last action is kept")
    serve.on(CONTROL, on_control, decode_control, prefix=True)
    serve.on("recorder_progress", lambda tick, _event: ticks.watch.heard(tick), decode_tick)
    for input_id in GONE_MEANS_STOP:
        serve.on_closed(input_id, on_gone)
    serve.run()
    ticks.say_last_frame()
    serve.finish()
    if actions.counts:
        serve.log(f"out-of-range actions (clamped; non-finite ones not held): {actions.summary()}")
    for line in _end_lines(runner, config.tick_period_s):
        serve.log(line)
    if viewer is not None:
        # Closing MuJoCo's passive viewer (its render thread and GLFW context) while the model goes
        # away segfaulted the sim in 2 of 4 runs at Esc, so the dataflow ended with exit 1. Nothing is
        # left to save here: leave without the native teardown; the OS frees the window.
        exit_now(1 if ticks.failed else 0)
    runner.sim.close()
    if ticks.failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
