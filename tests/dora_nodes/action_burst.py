"""Test node: on the 4th running frame sends BURST actions at once (x = i * 1e-4), then records the
action each later frame carries (JSONL at BURST_OUT) and leaves after FRAMES_AFTER frames."""

from __future__ import annotations

import json
import os

import numpy as np
from dora import Node

from sim_teleop.messages import Phase, decode_frame, encode_action

node = Node()
burst = int(os.environ.get("BURST", "1000"))
after = int(os.environ.get("FRAMES_AFTER", "40"))
sent = False
seen = 0
with open(os.environ["BURST_OUT"], "w") as out:
    for event in node:
        if event["type"] != "INPUT":
            continue
        frame = decode_frame(event["value"])
        if frame.phase is Phase.RUNNING and not sent and frame.frame_index >= 3:
            for i in range(burst):
                node.send_output("action", encode_action(np.array([i * 1e-4, 0, 0, 0], np.float32)))
            sent = True
            continue
        if sent:
            out.write(json.dumps({"frame": frame.frame_index, "x": float(frame.action[0])}) + "\n")
            out.flush()
            seen += 1
            if seen >= after:
                break
