"""Test-only dora node: drives the sim without a keyboard, from a script in $SCRIPT.

SCRIPT is a comma-separated list, one item per episode attempt: `N` = run N frames then Space (save),
`rN` = run N frames then Ctrl (re-record), `hold` = keep running until killed/stopped by others.
After the script: send `stop` (Esc) unless SCRIPT_STOP=0. Actions follow a deterministic pattern
(offset grows with the frame index) so tests can compare recorded actions with what was sent.
"""

from __future__ import annotations

import os

import numpy as np
from dora import Node

from sim_teleop.messages import (
    ACTION,
    CONTROL,
    FRAME,
    Control,
    Phase,
    decode_frame,
    encode_action,
    encode_control,
)


def scripted_action(frame_index: int) -> np.ndarray:
    return np.array(
        [0.002 * frame_index, -0.001 * frame_index, 0.0, float((frame_index // 5) % 2)], np.float32
    )


def main() -> None:
    items = [s.strip() for s in os.environ.get("SCRIPT", "").split(",") if s.strip()]
    stop_at_end = os.environ.get("SCRIPT_STOP", "1") != "0"
    node = Node()
    node.send_output(ACTION, encode_action(scripted_action(0)))  # warm-up: the first send is slow
    sent: set[tuple[int, str]] = set()
    attempt_no = 0  # index into items (attempts counted as they start running)
    seen_attempts: list[int] = []
    for event in node:
        if event["type"] == "STOP":
            break
        if event["type"] != "INPUT" or event["id"] != FRAME:
            continue
        f = decode_frame(event["value"])
        if f.phase is Phase.RUNNING and f.episode_index not in seen_attempts:
            seen_attempts.append(f.episode_index)
        attempt_no = len(seen_attempts) - 1
        item = items[attempt_no] if 0 <= attempt_no < len(items) else None

        def once(what: str, command: Control, f=f) -> None:
            if (f.episode_index, what) not in sent:
                sent.add((f.episode_index, what))
                node.send_output(CONTROL, encode_control(command))

        if item is None:
            if stop_at_end and attempt_no >= len(items):
                once("stop", Control.STOP)
            continue
        if f.phase is Phase.RUNNING:
            node.send_output(ACTION, encode_action(scripted_action(f.frame_index + 1)))
            if item == "hold":
                continue
            n = int(item.lstrip("r"))
            if f.frame_index + 1 >= n and not f.end_reason:
                once("end", Control.RERECORD if item.startswith("r") else Control.NEXT)
        elif f.phase is Phase.DONE:
            once("done", Control.NEXT)
        elif f.phase is Phase.RESETTING:
            if attempt_no + 1 >= len(items) and stop_at_end:
                once("stop", Control.STOP)
            else:
                once("reset", Control.NEXT)


if __name__ == "__main__":
    main()
