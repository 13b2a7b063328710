"""A dora node for the handover latency benchmark (scripts/bench_handover.py): one compact JSON line per
received frame and per takeover action to $PROBE_OUT, with the wall clock of its arrival here and the
wall clock dora stamped it with when it was sent (both `time.time()` seconds, the same clock as the
benchmark's key presses).

Inputs: `frame` (sim/frame) and, optionally, `action` (keyboard/action: the takeover's actions, so the
keyboard's own share of the latency can be told apart from the sim's).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from typing import Any

from dora import Node

from sim_teleop.messages import WARM_UP, decode_frame


def _sent(event: dict[str, Any]) -> float | None:
    stamp = (event.get("metadata") or {}).get("timestamp")
    return stamp.timestamp() if isinstance(stamp, datetime) else None


def main() -> None:
    with open(os.environ["PROBE_OUT"], "w") as out:
        for event in Node():
            if event["type"] != "INPUT":
                continue
            arrived = time.time()
            row: dict[str, Any] = {"t": arrived, "sent": _sent(event)}
            if event["id"] == "action":
                row["kind"] = "action"
                row["warm_up"] = bool((event.get("metadata") or {}).get(WARM_UP))
            else:
                f = decode_frame(event["value"])
                row.update(
                    kind="frame",
                    episode_index=f.episode_index,
                    frame_index=f.frame_index,
                    tick_index=f.tick_index,
                    phase=f.phase.value,
                    end_reason=f.end_reason.value,
                    intervention=bool(f.intervention),
                )
            out.write(json.dumps(row) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
