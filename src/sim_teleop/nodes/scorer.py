"""dora node: inline live quality scorer (sim -> scorer -> recorder).

Input `frame` (from sim/frame). Outputs `frame` (each incoming frame forwarded unchanged, the same Arrow
value) and `quality` (one `QualityReport` per finished attempt, sent on the attempt's first frame with a
non-empty end reason; none for a re-recorded attempt). One console line per episode and a summary when the
stream ends.

Env: QUALITY_CONFIG (path, default configs/quality.json), QUALITY_IMAGES (1/0: camera metrics on the
in-memory frames, default 1).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from typing import Any

from sim_teleop.config import ConfigError, RunConfig
from sim_teleop.messages import FRAME, QUALITY, Frame, decode_frame, encode_quality
from sim_teleop.nodes.serve import Serve, connect, exit_now, log
from sim_teleop.quality.config import load_quality_config
from sim_teleop.quality.scorer import StreamScorer, console_line, summary_line
from sim_teleop.sim.watchdog import ConsumerWatch

NAME = "scorer"


def _leave_when_frames_stop(serve: Serve, watch: ConsumerWatch) -> None:
    """Frames that had started and then stop for the run's `stall_s` (the sim's daemon dropped by dora
    and rejoined: the frame input never closes) end the node, exit 1: waiting on would keep
    `dora start --attach` from ever ending. A thread, so the event loop stays as it is."""

    def check() -> None:
        while True:
            time.sleep(1.0)
            silent = watch.stalled()
            if silent is not None:
                serve.log(f"no frame from the sim for {silent:.0f} s (its side stalled or cut off): ending")
                exit_now(1)

    threading.Thread(target=check, name="frames-watch", daemon=True).start()


def run(node: Any, stream: StreamScorer, stall_s: float = 0.0) -> list[float]:
    """Event loop; returns the report latencies (s, end frame received -> report sent). With `stall_s`,
    frames that stop that long after they started end the node (`_leave_when_frames_stop`)."""
    serve = Serve(NAME, node)
    latencies: list[float] = []
    watch = ConsumerWatch(stall_s)

    def on_frame(frame: Frame, _event: dict) -> None:
        watch.heard(0)
        report = stream.on_frame(frame)
        if report is None:
            return
        serve.send(QUALITY, encode_quality(report), {"episode_index": report.episode_index})
        latency = time.perf_counter() - serve.received_at
        latencies.append(latency)
        serve.log(f"{console_line(report)} [{latency * 1000:.1f} ms after its last frame]")

    serve.on(FRAME, on_frame, decode_frame, forward=FRAME)
    _leave_when_frames_stop(serve, watch)
    serve.run()
    serve.finish()
    line = summary_line(stream.reports, stream.discarded)
    if latencies:
        ms = sorted(x * 1000 for x in latencies)
        line += f"; report latency p50 {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms"
    serve.log(line)
    return latencies


def main(node: Any = None) -> None:
    try:
        run_config = RunConfig.load()
        config = load_quality_config(fps=run_config.fps)
    except ConfigError as exc:
        log(NAME, f"configuration error: {exc}")
        sys.exit(2)
    run(connect(node), StreamScorer(config, use_images=config.use_images), run_config.stall_s)


if __name__ == "__main__":
    main()
