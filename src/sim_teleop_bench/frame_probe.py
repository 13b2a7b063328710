"""A dora node for tests and the human-like driver: one compact JSON line per received frame to $PROBE_OUT
(what the sim sent, and what a person would see on the screen: the tool point and the cube)."""

from __future__ import annotations

import json
import os

from dora import Node

from sim_teleop.messages import STATE_GRIPPER, STATE_TCP, decode_frame


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
                "tcp": f.state[STATE_TCP].tolist(),
                "gripper": float(f.state[STATE_GRIPPER]),
                "action": f.action.tolist(),
                "success": f.success,
                "ticks_missed": f.ticks_missed,
                "tick_index": f.tick_index,
                "front_mean": float(f.front.mean()),
                "cube_xy": [round(float(v), 4) for v in f.cube_pose[:2]],
                "cube": [round(float(v), 4) for v in f.cube_pose[:3]],
            }
            out.write(json.dumps(row) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
