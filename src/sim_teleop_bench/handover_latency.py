"""The handover latency benchmark's arithmetic (scripts/bench_handover.py), apart from dora and X.

A press is a key going down at wall time `down` (time.time() taken just before the key-down call,
`xdotool keydown` or XTest; `call_s` is how long that call took, so the X server got the key somewhere
in [down, down + call_s]). What the probe saw: frames (arrival time at the probe, the time dora stamped
them sent, the sim's tick index, whether a person drove that tick) and the keyboard's takeover actions
(arrival, sent).

Per press the latency is from `down` to the arrival of the first frame stamped `intervention` at the
probe; `latency_after_call_ms` is the same from the end of the key-down call (the key reached X inside
the call, so the truth lies between the two). It splits into:
  key_to_action  down -> the keyboard node sends its first takeover action (X, pynput's thread, the node's
                 idle poll);
  action_to_frame the action's send -> the first flagged frame's send (the sim: waiting for its next tick,
                 plus whole ticks when it applies the action later than the first frame it sends after
                 the action (`ticks_late`), or when it skips ticks, starved of CPU (`ticks_missed`));
  delivery       the flagged frame's send -> its arrival at the probe (dora).
A press counts only when the policy drove at the moment of the key (the last frame before it unflagged,
an attempt running); the others are reported by status and left out of the percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

OK = "ok"
NOT_RUNNING = "not_running"  # no attempt ran when the key went down (the keys do nothing then)
ALREADY_HUMAN = "already_human"  # the previous takeover had not been handed back yet
NO_FLAG = "no_flagged_frame"  # no frame stamped `intervention` came after the key


@dataclass(frozen=True)
class Press:
    down: float  # time.time() right before the key-down call
    call_s: float  # that call's own duration
    up: float  # time.time() right before `xdotool keyup`
    key: str = ""


@dataclass(frozen=True)
class FrameSeen:
    t: float  # arrival at the probe
    sent: float | None  # dora's send stamp
    tick_index: int
    frame_index: int
    episode_index: int
    running: bool  # an attempt runs (phase running, no end reason)
    intervention: bool


@dataclass(frozen=True)
class ActionSeen:
    t: float
    sent: float | None


@dataclass(frozen=True)
class PressResult:
    status: str
    key: str
    call_ms: float
    latency_ms: float | None = None  # down -> first flagged frame at the probe (an upper bound)
    latency_after_call_ms: float | None = None  # from the end of the key-down call (a lower bound)
    tick_index: int | None = None  # the first flagged frame's
    frame_index: int | None = None
    ticks_after_key: int | None = None  # flagged tick - first tick sent after the key
    ticks_late: int | None = None  # frames the sim sent after the takeover action before the flagged one
    ticks_missed: int | None = None  # ticks the sim skipped (CPU starved) between the action and the flag
    key_to_action_ms: float | None = None
    action_to_frame_ms: float | None = None
    delivery_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def frames_from_rows(rows: Iterable[dict[str, Any]]) -> list[FrameSeen]:
    """The probe's frame lines (handover_probe) as FrameSeen, in arrival order."""
    return [
        FrameSeen(
            t=r["t"],
            sent=r.get("sent"),
            tick_index=r["tick_index"],
            frame_index=r["frame_index"],
            episode_index=r["episode_index"],
            running=r["phase"] == "running" and not r["end_reason"],
            intervention=r["intervention"],
        )
        for r in rows
        if r.get("kind") == "frame"
    ]


def actions_from_rows(rows: Iterable[dict[str, Any]]) -> list[ActionSeen]:
    """The probe's takeover action lines, warm-up excluded, in arrival order."""
    return [
        ActionSeen(t=r["t"], sent=r.get("sent"))
        for r in rows
        if r.get("kind") == "action" and not r.get("warm_up")
    ]


def _sent(x: FrameSeen | ActionSeen) -> float:
    return x.sent if x.sent is not None else x.t


def _first_tick_sent_after(frames: Sequence[FrameSeen], t: float) -> FrameSeen | None:
    return next((f for f in frames if _sent(f) >= t), None)


def match_press(press: Press, frames: Sequence[FrameSeen], actions: Sequence[ActionSeen]) -> PressResult:
    """The first frame flagged `intervention` after `press`, and the parts of its latency."""
    call_ms = 1000 * press.call_s
    before = [f for f in frames if _sent(f) < press.down]
    if not before or not before[-1].running:
        return PressResult(NOT_RUNNING, press.key, call_ms)
    if before[-1].intervention:
        return PressResult(ALREADY_HUMAN, press.key, call_ms)
    flagged = next((f for f in frames if _sent(f) >= press.down and f.intervention), None)
    if flagged is None:
        return PressResult(NO_FLAG, press.key, call_ms)
    if flagged.episode_index != before[-1].episode_index:  # the attempt ended before the key took over
        return PressResult(NOT_RUNNING, press.key, call_ms)
    first_after_key = _first_tick_sent_after(frames, press.down)
    action = next((a for a in actions if _sent(a) >= press.down), None)
    key_to_action = action_to_frame = None
    ticks_late = ticks_missed = None
    if action is not None and _sent(action) <= _sent(flagged):
        key_to_action = 1000 * (_sent(action) - press.down)
        action_to_frame = 1000 * (_sent(flagged) - _sent(action))
        sent_between = [f for f in frames if _sent(action) <= _sent(f) < _sent(flagged)]
        ticks_late = len(sent_between)
        last_before = [f for f in frames if _sent(f) < _sent(action)][-1]
        ticks_missed = flagged.tick_index - last_before.tick_index - 1 - ticks_late
    return PressResult(
        OK,
        press.key,
        call_ms,
        latency_ms=1000 * (flagged.t - press.down),
        latency_after_call_ms=1000 * (flagged.t - press.down - press.call_s),
        tick_index=flagged.tick_index,
        frame_index=flagged.frame_index,
        ticks_after_key=(flagged.tick_index - first_after_key.tick_index) if first_after_key else None,
        ticks_late=ticks_late,
        ticks_missed=ticks_missed,
        key_to_action_ms=key_to_action,
        action_to_frame_ms=action_to_frame,
        delivery_ms=1000 * (flagged.t - flagged.sent) if flagged.sent is not None else None,
    )


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (the smallest value with at least p % of the values at or below it): with
    30 values p99 is the maximum, so it never reports a latency no press had."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(values_ms: Sequence[float], tick_ms: float) -> dict[str, float | int]:
    """p50/p90/p99/max in ms and in ticks, and the count."""
    out: dict[str, float | int] = {"n": len(values_ms)}
    if not values_ms:
        return out
    for name, p in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)):
        ms = percentile(values_ms, p)
        out[f"{name}_ms"] = round(ms, 1)
        out[f"{name}_ticks"] = round(ms / tick_ms, 3)
    return out


def report(results: Sequence[PressResult], tick_ms: float) -> dict[str, Any]:
    """The benchmark's summary: latency percentiles over the presses that handed over, each part's,
    the in-sim ticks late, and the count of presses by status."""
    ok = [r for r in results if r.status == OK]
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1

    def part(name: str) -> dict[str, float | int]:
        return summarize([v for r in ok if (v := getattr(r, name)) is not None], tick_ms)

    late = [r.ticks_late for r in ok if r.ticks_late is not None]
    missed = [r.ticks_missed for r in ok if r.ticks_missed is not None]
    latency = summarize([r.latency_ms for r in ok if r.latency_ms is not None], tick_ms)
    return {
        "tick_ms": tick_ms,
        "presses": len(results),
        "by_status": statuses,
        "latency": latency,
        "p99_within_one_tick": bool(latency.get("p99_ticks", math.inf) <= 1.0),
        "latency_after_call": part("latency_after_call_ms"),
        "key_call": summarize([r.call_ms for r in results], tick_ms),
        "key_to_action": part("key_to_action_ms"),
        "action_to_frame": part("action_to_frame_ms"),
        "delivery": part("delivery_ms"),
        "ticks_late": {str(k): late.count(k) for k in sorted(set(late))},
        "ticks_missed": {str(k): missed.count(k) for k in sorted(set(missed))},
        "ticks_after_key": {
            str(k): sum(1 for r in ok if r.ticks_after_key == k)
            for k in sorted({r.ticks_after_key for r in ok if r.ticks_after_key is not None})
        },
    }
