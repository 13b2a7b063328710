"""dora node: records the sim's episodes into a crash-safe LeRobotDataset v3.0.

The logic lives in sim_teleop.recorder.session.

Inputs: `frame` (sim frames, usually forwarded by the inline scorer), optional `quality` (one report
per finished attempt), optional `annotation` (controller facts about an attempt).
Output: `control`: `stop` once the dataset holds the configured number of episodes, or when the
recorder cannot record (bad config, refused resume, writer error) so the dataflow does not run on
recording nothing. Config: configs/record.json or RECORD_CONFIG, plus RECORD_* env vars.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sim_teleop.messages import (
    ANNOTATION,
    CONTROL,
    FRAME,
    QUALITY,
    Control,
    MessageError,
    decode_annotation,
    decode_frame,
    decode_quality,
    encode_control,
)
from sim_teleop.nodes.serve import OnceLogger, exit_now, log, quiet_libraries

NAME = "recorder"


def _say(message: str) -> None:
    log(NAME, message)


def _declared_inputs(node: Any) -> set[str]:
    try:
        return set((node.node_config() or {}).get("inputs", {}) or {})
    except Exception:
        return set()


def main(node: Any = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local dataset must never fall through to the Hub
    quiet_libraries()  # encoder banners and progress bars, per episode (SIM_TELEOP_VERBOSE=1 keeps them)
    # Import lerobot (~10 s) before registering: dora holds every node until all reached Node(), so
    # the sim does not start ticking while the recorder is still starting.
    import lerobot.datasets  # noqa: F401

    from sim_teleop.config import ConfigError
    from sim_teleop.dataset import DatasetError
    from sim_teleop.recorder.live_view import LiveView
    from sim_teleop.recorder.session import RecordConfig, Recorder

    if node is None:
        from dora import Node

        node = Node()
    stop_sent = False

    def send_stop(why: str) -> None:
        nonlocal stop_sent
        if not stop_sent:
            _say(f"sending stop: {why}")
            node.send_output(CONTROL, encode_control(Control.STOP))
            stop_sent = True

    try:
        cfg = RecordConfig.load()
        inputs = _declared_inputs(node)
        live = LiveView(
            cfg.rerun,
            cfg.rrd_path,
            log=_say,
            port=cfg.rerun_port,
            viewer_log=cfg.root.with_name(cfg.root.name + ".viewer.log"),
        )
        recorder = Recorder(cfg, expects_quality=QUALITY in inputs, log=_say, live=live)
    except (ConfigError, DatasetError, ValueError) as exc:
        _say(f"error: {exc}")
        send_stop("the recorder cannot record")
        sys.exit(1)

    where = (
        "with quality reports" if recorder.expects_quality else "without quality reports (no quality input)"
    )
    _say(
        f"recording {cfg.repo_id} -> {cfg.root} ({'resume, ' if recorder.resumed else ''}"
        f"{recorder.initial_episodes} episodes there, target {cfg.num_episodes}, {cfg.fps} fps, "
        f"{cfg.video.codec}, {where})"
    )
    if recorder.target_reached:
        send_stop(f"the dataset already holds {recorder.saved} >= {cfg.num_episodes} episodes")

    problems = OnceLogger(_say)
    debug = os.environ.get("RECORD_DEBUG_FRAMES") == "1"
    stopping = False
    while True:
        # Blocking receive (cheapest); after STOP only drain what is left, with a bound.
        event = node.next(timeout=2.0) if stopping else node.next()
        if event is None:
            break
        kind = event["type"]
        if debug and kind != "INPUT":
            _say(f"event {kind} {event.get('id')} {event.get('error', '')}")
        if kind == "INPUT":
            input_id = event["id"]
            try:
                if input_id == FRAME:
                    frame = decode_frame(event["value"])
                    if debug:
                        _say(
                            f"frame {frame.episode_index}/{frame.frame_index} "
                            f"{frame.phase.value} {frame.end_reason.value}"
                        )
                    recorder.on_frame(frame)
                elif input_id == QUALITY:
                    recorder.on_quality(decode_quality(event["value"]))
                elif input_id == ANNOTATION:
                    recorder.on_annotation(decode_annotation(event["value"]))
            except MessageError as exc:
                problems(f"{input_id}:{type(exc).__name__}", f"ignored bad {input_id}: {exc}")
        elif kind == "INPUT_CLOSED" and event.get("id") == QUALITY:
            recorder.on_quality_closed()
        elif kind == "STOP":
            stopping = True  # keep draining what is still queued; the stream ends by itself
        elif kind == "ERROR" and stopping:
            break  # nothing more arrived after STOP
        if recorder.error is not None:
            send_stop("writer error")
            break
        if recorder.target_reached and not stop_sent:
            send_stop(f"{recorder.saved} episodes recorded (target {cfg.num_episodes})")
        elif recorder.controller_finished and not stop_sent:
            send_stop(f"the controller has finished; {recorder.saved} episodes in the dataset")

    try:
        recorder.close()
    except Exception as exc:
        if exc is not recorder.error:  # a writer error has had its one line already
            _say(f"error while finishing: {type(exc).__name__}: {exc}")
        sys.exit(1)
    stats = recorder.tracker.stats
    _say(
        f"done: {recorder.saved - recorder.initial_episodes} new episode(s), {recorder.saved} in {cfg.root}; "
        f"frames received {stats.received}, recorded {stats.recorded}, dropped {stats.dropped}, "
        f"duplicated {stats.duplicated}"
        + (
            f"; discarded by quality policy: {recorder.discarded_by_policy}"
            if recorder.discarded_by_policy
            else ""
        )
        + (
            f"; saved WITHOUT report: {recorder.saved_without_report}"
            if recorder.saved_without_report
            else ""
        )
        + (f"; saved WITH frame gaps: {recorder.saved_with_gaps}" if recorder.saved_with_gaps else "")
    )
    if problems.counts:
        _say(f"bad messages ignored: {problems.summary()}")
    stats_path = os.environ.get("RECORD_STATS_PATH")
    if stats_path:  # for scripts/bench_recorder.py
        import dataclasses
        import json

        with open(stats_path, "w") as fh:
            json.dump(
                {
                    "timings": [dataclasses.asdict(t) for t in recorder.timings],
                    "stats": dataclasses.asdict(stats),
                    "saved": recorder.saved,
                    "initial": recorder.initial_episodes,
                },
                fh,
            )
    if live.stuck:  # rerun would wait for its gone viewer at exit, forever; everything is saved
        exit_now(0)


if __name__ == "__main__":
    main()
