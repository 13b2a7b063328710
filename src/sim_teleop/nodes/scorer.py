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
import time
from typing import Any

from sim_teleop.config import ConfigError, RunConfig, env_bool, env_str
from sim_teleop.messages import FRAME, QUALITY, MessageError, decode_frame, encode_quality
from sim_teleop.nodes.serve import OnceLogger, log
from sim_teleop.quality.config import load_quality_config
from sim_teleop.quality.scorer import StreamScorer, console_line, summary_line

NAME = "scorer"


def run(node: Any, stream: StreamScorer) -> list[float]:
    """Event loop; returns the report latencies (s, end frame received -> report sent)."""
    problems = OnceLogger(lambda msg: log(NAME, msg))
    latencies: list[float] = []
    for event in node:
        if event["type"] == "STOP":
            break
        if event["type"] != "INPUT" or event["id"] != FRAME:
            continue
        received = time.perf_counter()
        value = event["value"]
        node.send_output(FRAME, value, event.get("metadata") or {})
        try:
            frame = decode_frame(value)
        except MessageError as exc:
            problems("frame", f"ignored bad frame: {exc}")
            continue
        report = stream.on_frame(frame)
        if report is None:
            continue
        node.send_output(QUALITY, encode_quality(report), {"episode_index": report.episode_index})
        latency = time.perf_counter() - received
        latencies.append(latency)
        log(NAME, f"{console_line(report)} [{latency * 1000:.1f} ms after its last frame]")
    line = summary_line(stream.reports, stream.discarded)
    if latencies:
        ms = sorted(x * 1000 for x in latencies)
        line += f"; report latency p50 {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms"
    log(NAME, line)
    return latencies


def main(node: Any = None) -> None:
    try:
        config = load_quality_config(env_str("QUALITY_CONFIG", "") or None, fps=RunConfig.load().fps)
        use_images = env_bool("QUALITY_IMAGES", True)
    except ConfigError as exc:
        log(NAME, f"configuration error: {exc}")
        sys.exit(2)
    if node is None:
        from dora import Node

        node = Node()
    run(node, StreamScorer(config, use_images=use_images))


if __name__ == "__main__":
    main()
