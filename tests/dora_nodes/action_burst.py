"""Test node: on the 4th running frame sends BURST actions at once (x = i * 1e-4), then records the
action each later frame carries (JSONL at BURST_OUT). It leaves FRAMES_AFTER frames after the first
that carries the burst's newest action, or after MAX_FRAMES: on a loaded machine the frames queued while
it was sending still show older actions, and how many there are depends on the load, not the sim."""

from __future__ import annotations

import json
import os

import numpy as np
from dora import Node

from sim_teleop.messages import Phase, decode_frame, encode_action

node = Node()
burst = int(os.environ.get("BURST", "1000"))
after = int(os.environ.get("FRAMES_AFTER", "40"))
cap = int(os.environ.get("MAX_FRAMES", "600"))
newest = np.float32((burst - 1) * 1e-4)
sent = False
seen = 0
since_newest: int | None = None
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
            if since_newest is None and np.float32(frame.action[0]) == newest:
                since_newest = 0
            if since_newest is not None:
                since_newest += 1
            if (since_newest is not None and since_newest >= after) or seen >= cap:
                break
