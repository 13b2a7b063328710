"""dora node: records the sim's episodes into a crash-safe LeRobotDataset v3.0.

The logic lives in sim_teleop.recorder.session.

Inputs: `frame` (sim frames, usually forwarded by the inline scorer), optional `quality` (one report
per finished attempt), optional `annotation` (controller facts about an attempt).
Outputs: `control`: `stop` once the dataset holds the configured number of episodes, or when the
recorder cannot record (bad config, refused resume, writer error) so the dataflow does not run on
recording nothing; `progress` (when declared): the last tick received, about once a second, so the sim
ends the run when frames stop arriving (sim_teleop.sim.watchdog). Optional input `last_frame` (from the
sim): the sequence number of the sim's last frame, to find frames lost at the end of the stream.
Config: configs/record.json or RECORD_CONFIG, plus RECORD_* env vars.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from sim_teleop.messages import (
    ANNOTATION,
    CONTROL,
    FRAME,
    LAST_FRAME,
    PROGRESS,
    QUALITY,
    Control,
    Frame,
    decode_annotation,
    decode_frame,
    decode_quality,
    decode_tick,
    encode_control,
    encode_tick,
)
from sim_teleop.nodes.serve import Serve, exit_now, quiet_libraries
from sim_teleop.sim.watchdog import ConsumerWatch, ProgressReporter

if TYPE_CHECKING:
    from sim_teleop.recorder.session import Recorder

NAME = "recorder"
DRAIN_S = 2.0  # after STOP, how long to wait for what may still be queued
WAKE_S = 1.0  # how often the receive loop looks at the frames' silence (sim.watchdog) while idle


class _Stopper:
    """Sends `stop` on `control` once, with one line saying why."""

    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.sent = False

    def __call__(self, why: str) -> None:
        if not self.sent:
            self.serve.log(f"sending stop: {why}")
            self.serve.send(CONTROL, encode_control(Control.STOP))
            self.sent = True


def _serve(serve: Serve, recorder: Recorder, stop: _Stopper, watch: ConsumerWatch, debug: bool) -> None:
    """Receive until the stream ends; after STOP only drain what is left, with a bound. Frames that
    stop coming for the watch's `stall_s` (the sim's side gone or cut off: its frame input never
    closes) end it too. After each event, and each WAKE_S without one: stop when the recorder says so."""

    def check() -> bool:
        why = recorder.stop_reason()
        if why is not None:
            stop(why)
        return recorder.error is not None

    def on_idle() -> bool:
        silent = watch.stalled()
        if silent is not None:
            serve.log(
                f"no frame from the sim for {silent:.0f} s (its side stalled or cut off): ending the run"
            )
            recorder.cut_off = True
            return True
        return check()

    serve.run(idle_s=WAKE_S, on_idle=on_idle, after=check, drain_s=DRAIN_S, trace=debug)


def main(node: Any = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local dataset must never fall through to the Hub
    quiet_libraries()  # encoder banners and progress bars, per episode (SIM_TELEOP_VERBOSE=1 keeps them)
    # Import lerobot (5 s; 12-15 s where no bytecode is cached) before registering: dora holds every
    # node until all reached Node(), so the sim does not start ticking while the recorder is starting.
    import lerobot.datasets  # noqa: F401

    from sim_teleop.config import ConfigError
    from sim_teleop.dataset import DatasetError
    from sim_teleop.recorder.config import RecordConfig
    from sim_teleop.recorder.live_view import LiveView
    from sim_teleop.recorder.session import Recorder

    serve = Serve(NAME, node)
    stop = _Stopper(serve)
    try:
        cfg = RecordConfig.load()
        live = LiveView(
            cfg.rerun,
            cfg.rrd_path,
            log=serve.log,
            port=cfg.rerun_port,
            viewer_log=cfg.root.with_name(cfg.root.name + ".viewer.log"),
        )
        recorder = Recorder(
            cfg, expects_quality=QUALITY in serve.declared("inputs"), log=serve.log, live=live
        )
    except (ConfigError, DatasetError, ValueError) as exc:
        serve.log(f"error: {exc}")
        stop("the recorder cannot record")
        sys.exit(1)
    serve.log(recorder.start_line())
    if recorder.target_reached:
        stop(f"the dataset already holds {recorder.saved} >= {cfg.num_episodes} episodes")

    debug = cfg.debug_frames
    progress = ProgressReporter() if PROGRESS in serve.declared("outputs") else None
    watch = ConsumerWatch(cfg.stall_s)

    def heard(value: Any) -> Frame:  # any frame, even a malformed one, shows the sim's side is there
        watch.heard(0)
        return decode_frame(value)

    def on_frame(frame: Frame, _event: dict) -> None:
        if debug:
            where = f"{frame.episode_index}/{frame.frame_index}"
            serve.log(f"frame {where} {frame.phase.value} {frame.end_reason.value}")
        recorder.on_frame(frame)
        if progress is not None and progress.due():
            serve.send(PROGRESS, encode_tick(frame.tick_index))

    serve.on(FRAME, on_frame, heard)
    serve.on(QUALITY, lambda report, _event: recorder.on_quality(report), decode_quality)
    serve.on(ANNOTATION, lambda data, _event: recorder.on_annotation(data), decode_annotation)
    serve.on(LAST_FRAME, lambda seq, _event: recorder.on_last_frame(seq), decode_tick)
    serve.on_closed(QUALITY, lambda _id: recorder.on_quality_closed())
    serve.on_closed(FRAME, lambda _id: recorder.on_frames_closed())
    _serve(serve, recorder, stop, watch, debug)
    _finish(serve, recorder, cfg.stats_path, live.stuck)


def _finish(serve: Serve, recorder: Recorder, stats_path: str, viewer_stuck: bool) -> None:
    """Close the dataset and say how the run went; exit non-zero when it did not record everything."""
    try:
        recorder.close()
    except Exception as exc:
        if exc is not recorder.error:  # a writer error has had its one line already
            serve.log(f"error while finishing: {type(exc).__name__}: {exc}")
        sys.exit(1)
    serve.log(recorder.done_line())
    serve.finish()
    if stats_path:  # for scripts/bench_recorder.py
        recorder.write_stats(stats_path)
    code = 1 if recorder.lost_in_transit or recorder.cut_off else 0  # frames went unrecorded
    if viewer_stuck:  # rerun would wait for its gone viewer at exit, forever; everything is saved
        exit_now(code)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
