"""dora node: sim ticks every TICK_MS milliseconds (default: the frame period), see sim_teleop.sim.clock.

The dataflow sets TICK_MS from its own variable (AUTOPILOT_TICK_MS, EVAL_TICK_MS).

Input `frame` (from sim/frame) only tells it when the sim has gone: it exits when that input closes.
Input `takeover` (the eval: the keyboard's actions): the first action of a person's takeover (metadata
`TAKEOVER`) gets a tick at once, marked `TAKEOVER` too (the sim serves it once the action has reached
it), so their key drives the sim within milliseconds; the grid then restarts from that tick.
Output `tick` (uint64 tick index). Prints the ticks sent and skipped when it ends.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sim_teleop.config import ConfigError, RunConfig
from sim_teleop.messages import FRAME, TAKEOVER, TICK, encode_tick
from sim_teleop.nodes.serve import Serve, log
from sim_teleop.sim.clock import TickSchedule

NAME = "clock"


def main(node: Any = None) -> None:
    try:
        period_ms = RunConfig.load().tick_period_s * 1000.0
    except ConfigError as exc:
        log(NAME, f"configuration error: {exc}")
        sys.exit(2)
    serve = Serve(NAME, node)
    schedule = TickSchedule(period_ms / 1000.0)
    log(NAME, f"ticking every {period_ms:g} ms ({1000.0 / period_ms:.1f} Hz)")
    # The first send blocks ~1 s (dora): make it tick 0, then start the grid, so it is not counted late.
    schedule.start(time.monotonic())
    serve.send(TICK, encode_tick(schedule.fire(schedule.next_due)))
    schedule.start(time.monotonic())

    def tick() -> None:
        serve.send(TICK, encode_tick(schedule.fire(time.monotonic())))

    def on_takeover(_value: Any, event: dict) -> None:
        if (event.get("metadata") or {}).get(TAKEOVER):
            serve.send(TICK, encode_tick(schedule.fire_now(time.monotonic())), {TAKEOVER: True})

    serve.on(TAKEOVER, on_takeover)
    serve.on_closed(FRAME, lambda _id: True)  # the sim has gone
    serve.run(idle_s=lambda: schedule.wait_s(time.monotonic()), on_idle=tick)
    early = f" ({schedule.early} at once for a takeover)" if schedule.early else ""
    log(
        NAME,
        f"done: {schedule.sent} ticks sent{early}, {schedule.skipped} skipped (woke up late); lateness "
        f"p50 {schedule.late_ms(0.5):.1f} ms, p99 {schedule.late_ms(0.99):.1f} ms, "
        f"max {schedule.late_ms(1.0):.0f} ms",
    )


if __name__ == "__main__":
    main()
