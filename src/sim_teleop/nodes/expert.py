"""dora node: the scripted pick expert that replaces the keyboard in dataflow-autopilot.yaml.

Input `frame` (sim/frame). Outputs `action` (every running frame), `control` (`next` after each
episode, through done and resetting; `stop` after AUTOPILOT_EPISODES saved episodes) and `annotation`
(the attempt's injected defects, once per attempt as it starts, stored by the recorder as ground truth).
Prints one line per episode and a summary at the end.

Env: AUTOPILOT_EPISODES (default: the run's `num_episodes`, RECORD_CONFIG's, 10), AUTOPILOT_SEED (0),
DEFECTS_CONFIG (defects config path; unset = clean demonstrations), AUTOPILOT_TICK_MS (the tick period,
for the served-ticks count; 1000 / the run's fps = 100), AUTOPILOT_STATS (optional path: summary JSON
written at the end).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sim_teleop.autopilot.session import AutopilotConfig, AutopilotSession
from sim_teleop.config import ConfigError
from sim_teleop.control.defects import config_from_env
from sim_teleop.messages import FRAME, Frame, decode_frame
from sim_teleop.nodes.serve import Serve, log

NAME = "expert"


def main(node: Any = None) -> None:
    try:
        cfg = AutopilotConfig.load()  # the recorder's count and the sim's rate: all stop and tick together
        defects = config_from_env()
    except ConfigError as exc:
        log(NAME, f"configuration error: {exc}")
        sys.exit(2)
    serve = Serve(NAME, node)
    # The recorder ends the run (it may still be committing when the last attempt ends): no `stop` here.
    session = AutopilotSession(
        cfg.episodes,
        cfg.seed,
        defects,
        report=lambda line: print(line, flush=True),
        tick_s=cfg.tick_s,
        stop_sim=cfg.stops_sim,
        operator=cfg.operator,
    )
    what = f"defects from {defects.source} (p={defects.probability:g})" if defects else "no defects"
    log(NAME, f"{cfg.episodes} episodes, seed {cfg.seed}, operator {cfg.operator}, {what}")
    for output, payload, _ in session.warmup():
        serve.send(output, payload)

    def on_frame(frame: Frame, _event: dict) -> None:
        for output, payload, _ in session.on_frame(frame):
            serve.send(output, payload)

    serve.on(FRAME, on_frame, decode_frame)
    serve.run()
    summary = session.summary()
    print(
        f"[expert] done: {summary['episodes']} episodes, {summary['successes']} successful "
        f"({100 * summary['success_rate']:.0f} %), mean {summary['mean_steps']:.1f} steps; "
        f"{summary['frames']} frames in {summary['wall_s']:.1f} s, ticks served "
        f"{100 * summary['ticks_served']:.2f} % at {summary['tick_ms']:g} ms",
        flush=True,
    )
    if cfg.stats_path:
        summary["results"] = [
            {
                "episode_index": r.episode_index,
                "end_reason": r.end_reason.value,
                "steps": r.steps,
                "elapsed_s": round(r.elapsed_s, 3),
                "defects": r.defects,
            }
            for r in session.results
        ]
        Path(cfg.stats_path).write_text(json.dumps(summary, indent=1))
    serve.finish()


if __name__ == "__main__":
    main()
