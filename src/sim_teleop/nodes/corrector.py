"""dora node: the simulated corrector (control.corrector) in the eval, in the keyboard's place.

Input: `frame`. Output: `action` (to the sim's takeover input), only while it drives. Started by the
keyboard node when EVAL_CORRECTOR=operator (dora YAML cannot switch nodes by env), or on its own as
`sim-teleop-corrector`. The policy node still auto-advances and stops the run.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from sim_teleop.config import ConfigError, RunConfig
from sim_teleop.control.corrector import Corrector, CorrectorConfig
from sim_teleop.eval.settings import DEFAULT_EVAL_CONFIG
from sim_teleop.messages import ACTION, ACTION_DIM, FRAME, WARM_UP, Frame, decode_frame, encode_action
from sim_teleop.nodes.serve import Serve, log

NAME = "corrector"


def main(node: Any = None) -> None:
    try:
        run = RunConfig.load(default=DEFAULT_EVAL_CONFIG)
        cfg = CorrectorConfig.from_dict({"fps": run.fps}, where="corrector")
    except ConfigError as exc:
        log(NAME, f"configuration error: {exc}")
        sys.exit(2)
    log(
        NAME,
        f"simulated corrector on: takes over after {cfg.stuck_s:g} s without progress, a gripper closed on "
        f"nothing for {cfg.empty_grip_s:g} s, or under {cfg.finish_s:g} s left",
    )
    corrector = Corrector(cfg)
    serve = Serve(NAME, node)
    serve.send(ACTION, encode_action(np.zeros(ACTION_DIM, np.float32)), {WARM_UP: True})  # first send: slow

    def on_frame(frame: Frame, _event: dict) -> None:
        action, line = corrector.on_frame(frame)
        if line:
            serve.log(line)
        if action is not None:
            serve.send(ACTION, encode_action(action))

    serve.on(FRAME, on_frame, decode_frame)
    serve.run()
    serve.log(f"{corrector.takeovers} takeovers")
    serve.finish()


if __name__ == "__main__":
    main()
