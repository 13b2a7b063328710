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
    Frame,
    Phase,
    decode_frame,
    encode_action,
    encode_control,
)


def scripted_action(frame_index: int) -> np.ndarray:
    return np.array(
        [0.002 * frame_index, -0.001 * frame_index, 0.0, float((frame_index // 5) % 2)], np.float32
    )


class Script:
    """The commands for each frame, from the script items (one per attempt, as attempts start)."""

    def __init__(self, items: list[str], stop_at_end: bool) -> None:
        self.items = items
        self.stop_at_end = stop_at_end
        self.sent: set[tuple[int, str]] = set()
        self.seen_attempts: list[int] = []

    def _once(self, f: Frame, what: str, command: Control) -> list[tuple[str, object]]:
        if (f.episode_index, what) in self.sent:
            return []
        self.sent.add((f.episode_index, what))
        return [(CONTROL, encode_control(command))]

    def on_frame(self, f: Frame) -> list[tuple[str, object]]:
        if f.phase is Phase.RUNNING and f.episode_index not in self.seen_attempts:
            self.seen_attempts.append(f.episode_index)
        attempt_no = len(self.seen_attempts) - 1
        if not 0 <= attempt_no < len(self.items):
            stop = self.stop_at_end and attempt_no >= len(self.items)
            return self._once(f, "stop", Control.STOP) if stop else []
        item = self.items[attempt_no]
        if f.phase is Phase.RUNNING:
            return [(ACTION, encode_action(scripted_action(f.frame_index + 1))), *self._end(f, item)]
        if f.phase is Phase.DONE:
            return self._once(f, "done", Control.NEXT)
        if attempt_no + 1 >= len(self.items) and self.stop_at_end:
            return self._once(f, "stop", Control.STOP)
        return self._once(f, "reset", Control.NEXT)

    def _end(self, f: Frame, item: str) -> list[tuple[str, object]]:
        if item == "hold" or f.frame_index + 1 < int(item.lstrip("r")) or f.end_reason:
            return []
        return self._once(f, "end", Control.RERECORD if item.startswith("r") else Control.NEXT)


def main() -> None:
    items = [s.strip() for s in os.environ.get("SCRIPT", "").split(",") if s.strip()]
    script = Script(items, stop_at_end=os.environ.get("SCRIPT_STOP", "1") != "0")
    node = Node()
    node.send_output(ACTION, encode_action(scripted_action(0)))  # warm-up: the first send is slow
    for event in node:
        if event["type"] == "STOP":
            break
        if event["type"] != "INPUT" or event["id"] != FRAME:
            continue
        for output, payload in script.on_frame(decode_frame(event["value"])):
            node.send_output(output, payload)


if __name__ == "__main__":
    main()
