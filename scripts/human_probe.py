"""Dora node for `human_driver.py`: the driver's eyes. Appends one JSON line per frame to $PROBE_OUT with
what a person sees on the screen (the arm's tool point, the cube, the phase); nothing else reads it."""

from __future__ import annotations

import json
import os

from dora import Node

from sim_teleop.messages import STATE_TCP, decode_frame


def main() -> None:
    with open(os.environ["PROBE_OUT"], "w") as out:
        for event in Node():
            if event["type"] != "INPUT":
                continue
            f = decode_frame(event["value"])
            row = {
                "episode_index": f.episode_index,
                "frame_index": f.frame_index,
                "phase": f.phase.value,
                "end_reason": f.end_reason.value,
                "tcp": [round(float(v), 4) for v in f.state[STATE_TCP]],
                "cube": [round(float(v), 4) for v in f.cube_pose[:3]],
                "success": f.success,
            }
            out.write(json.dumps(row) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
