"""Handover latency: a key press to the first frame a person drives, through the real eval dataflow.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_handover.py --presses 30 --json handover.json
    .venv/bin/python scripts/bench_handover.py --checkpoint outputs/train/act_cpu --presses 30

Runs `dora run dataflow-eval.yaml` (a copy with a probe node: sim/frame with backpressure, and the
keyboard's takeover actions) at its default tick (10 Hz) under its own Xvfb, the policy driving a tiny
checkpoint trained here with `lerobot-train` (or --checkpoint), in one long attempt. It presses arrow
keys (xdotool by default), each held 0.3-0.6 s at a random phase against the tick, then waits for the
policy to get control back (1 s after the last key, + margin).

Per press: the latency from the wall clock (`time.time()`) taken right before the key-down call
(`xdotool keydown`, or XTest with --inject xtest) to the arrival at the probe of the first frame stamped
`intervention` (the probe's `time.time()`), split into key -> the keyboard's first takeover action (X +
pynput + the node), action -> the flagged frame's send (the sim: the wait for its next tick, and
`ticks_late`, whole ticks it applied the action later than the first tick after it was sent) and dora's
delivery. The key-down call's own duration is measured and reported: the X server got the key somewhere
inside it, so the latency lies between the figure from its start (upper bound) and from its end (lower
bound). An xdotool call is a process start (~20 ms on a loaded box); XTest is sub-ms.

Prints one summary line per press at the end and the percentiles (ms and ticks of the run's period);
--json writes them all. Targets the issue's "p99 <= 1 tick at 10 Hz" (sim_teleop_bench.handover_latency).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from sim_teleop.launch.dora import dora_environment
from sim_teleop.sim.handover import RELEASE_S
from sim_teleop_bench import handover_probe
from sim_teleop_bench.handover_latency import (
    OK,
    Press,
    PressResult,
    actions_from_rows,
    frames_from_rows,
    match_press,
    report,
)
from sim_teleop_bench.xvfb import start_xvfb

REPO = Path(__file__).resolve().parents[1]
KEYS = ("Right", "Left", "Up", "Down")  # back and forth: the arm stays near where the policy had it


def train_tiny(work: Path) -> Path:
    """The test suite's tiny checkpoint (sim_teleop_bench.tiny_policy): 3 sim episodes, 64 px, 3 steps."""
    from sim_teleop_bench.tiny_policy import make_tiny_dataset, resize_for_training, train_few_steps

    data = make_tiny_dataset(work / "data", episodes=3, frames=12)
    small = resize_for_training(data, work / "data_64", size=64)
    return train_few_steps(small, "local/tiny_policy_bench", work / "run")


def flow_with_probe(work: Path, probe_out: Path) -> Path:
    spec = yaml.safe_load((REPO / "dataflow-eval.yaml").read_text())
    spec["nodes"].append(
        {
            "id": "probe",
            "path": str(Path(handover_probe.__file__)),
            "inputs": {
                "frame": {"source": "sim/frame", "queue_size": 1000, "queue_policy": "backpressure"},
                "action": {"source": "keyboard/action", "queue_size": 1000, "queue_policy": "backpressure"},
            },
            "env": {"PROBE_OUT": str(probe_out)},
        }
    )
    out = work / "dataflow-eval.yaml"
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"dora run exited early ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if text in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise SystemExit(f"no {text!r} in the dora log after {timeout:g} s:\n{log.read_text()[-3000:]}")


def wait_for_probe(probe_out: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until the probe gets frames as they are sent (it starts late and catches up on a backlog: a press
    before then would time the probe's start-up, not the handover)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"dora run exited early ({proc.returncode})")
        lines = probe_out.read_text().splitlines() if probe_out.exists() else []
        recent = [json.loads(x) for x in lines[-5:] if x.strip()]
        frames = [r for r in recent if r.get("kind") == "frame" and r.get("sent") is not None]
        if len(frames) >= 3 and all(r["t"] - r["sent"] < 0.05 for r in frames):
            return
        time.sleep(0.2)
    raise SystemExit("the probe never caught up with the sim's frames")


class Keys:
    """Key presses on the X display: `xdotool` (a process per call, as the end-to-end test does) or
    `xtest` (python-xlib's XTest in this process, flushed with a round trip: sub-ms, so the key's time is
    known to within the call). `down`/`up` return the wall clock right before and right after the call."""

    def __init__(self, display: str, how: str) -> None:
        self.display = display
        self.how = how
        self._x: Any = None
        if how == "xtest":
            from Xlib import display as xdisplay

            self._x = xdisplay.Display(display)

    def _send(self, key: str, down: bool) -> tuple[float, float]:
        before = time.time()
        if self._x is None:
            action = "keydown" if down else "keyup"
            subprocess.run(
                ["xdotool", action, key], env={"DISPLAY": self.display, "PATH": "/usr/bin:/bin"}, check=True
            )
        else:
            from Xlib import XK, X
            from Xlib.ext import xtest

            code = self._x.keysym_to_keycode(XK.string_to_keysym(key))
            xtest.fake_input(self._x, X.KeyPress if down else X.KeyRelease, code)
            self._x.sync()  # a round trip: the server has the event when this returns
        return before, time.time()

    def down(self, key: str) -> tuple[float, float]:
        return self._send(key, True)

    def up(self, key: str) -> tuple[float, float]:
        return self._send(key, False)

    def close(self) -> None:
        if self._x is not None:
            self._x.close()


def press_keys(keys: Keys, n: int, tick_s: float, hold: tuple[float, float], settle_s: float) -> list[Press]:
    presses = []
    for i in range(n):
        time.sleep(random.uniform(0.0, tick_s))  # a random phase against the sim's tick
        key = KEYS[i % len(KEYS)]
        down, after = keys.down(key)
        time.sleep(random.uniform(*hold))
        up, _ = keys.up(key)
        presses.append(Press(down=down, call_s=after - down, up=up, key=key))
        time.sleep(RELEASE_S + settle_s)
    return presses


def run(args: argparse.Namespace, work: Path) -> dict:
    checkpoint = Path(args.checkpoint).resolve() if args.checkpoint else train_tiny(work / "train")
    load_before = [round(x, 2) for x in os.getloadavg()]
    xvfb, display = start_xvfb()
    probe_out = work / "probe.jsonl"
    log = work / "dora.log"
    # One attempt long enough for every press; Esc ends the run when they are done.
    time_limit = int(args.presses * (RELEASE_S + args.settle + 1.0) + 60)
    env = dora_environment(
        DISPLAY=display,
        POLICY_CHECKPOINT=str(checkpoint),
        EVAL_EPISODES="1000",
        SIM_TIME_LIMIT_S=str(time_limit),
        RECORD_ROOT=str(work / "eval"),
    )
    tick_s = 0.1  # the eval's default tick (EVAL_TICK_MS unset)
    try:
        with log.open("w") as fh:
            proc = subprocess.Popen(
                ["dora", "run", str(flow_with_probe(work, probe_out))],
                cwd=work,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_line(log, "[keyboard] attempt 0 recording", proc, timeout=300)
            wait_for_probe(probe_out, proc)
            time.sleep(1.0)  # the policy drives a while first
            keys = Keys(display, args.inject)
            try:
                presses = press_keys(keys, args.presses, tick_s, (args.hold_min, args.hold_max), args.settle)
                keys.down("Escape")  # the eval's stop key
                keys.up("Escape")
            finally:
                keys.close()
            rc = proc.wait(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    rows = [json.loads(line) for line in probe_out.read_text().splitlines() if line.strip()]
    frames, actions = frames_from_rows(rows), actions_from_rows(rows)
    results = [match_press(p, frames, actions) for p in presses]
    running = [f for f in frames if f.running and presses[0].down - 1 <= f.t <= presses[-1].up + 2]
    span = running[-1].tick_index - running[0].tick_index + 1 if running else 0
    text = log.read_text(errors="replace")
    clock = [line for line in text.splitlines() if "[clock] done:" in line]
    return {
        "checkpoint": str(checkpoint),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "sim_ticks": f"the sim sent {len(running)} frames for {span} ticks while keys were pressed",
        "clock_line": clock[-1].split("stdout clock: ")[-1] if clock else "",
        "inject": args.inject,
        "dora_rc": rc,
        "frames_seen": len(frames),
        "summary": report(results, 1000 * tick_s),
        "per_press": [r.as_dict() for r in results],
    }


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:6.1f}"


def press_line(i: int, r: PressResult) -> str:
    if r.status != OK:
        return f"press {i:2d} {r.key:5s} {r.status} (key call {r.call_ms:.1f} ms)"
    assert r.latency_ms is not None
    return (
        f"press {i:2d} {r.key:5s} latency {r.latency_ms:6.1f} ms ({r.latency_ms / 100:.2f} ticks; "
        f"{_ms(r.latency_after_call_ms)} after the call) "
        f"frame {r.frame_index} tick {r.tick_index} (+{r.ticks_after_key} after key, {r.ticks_late} late, "
        f"{r.ticks_missed} missed) | "
        f"key->action {_ms(r.key_to_action_ms)}  action->frame {_ms(r.action_to_frame_ms)}  "
        f"delivery {_ms(r.delivery_ms)}  key call {r.call_ms:.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presses", type=int, default=30)
    ap.add_argument("--checkpoint", help="POLICY_CHECKPOINT (default: train a tiny one here, ~1 min)")
    ap.add_argument("--hold-min", type=float, default=0.3)
    ap.add_argument("--hold-max", type=float, default=0.6)
    ap.add_argument("--settle", type=float, default=0.5, help="margin after the 1 s handback (s)")
    ap.add_argument(
        "--inject",
        choices=("xdotool", "xtest"),
        default="xdotool",
        help="how keys go down: an xdotool process per key (default) or XTest in this process (sub-ms)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the summary and every press here")
    ap.add_argument("--workdir", type=Path, help="keep the run's files here (default: a temp dir)")
    args = ap.parse_args()
    random.seed(args.seed)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        out = run(args, args.workdir.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="bench_handover_") as tmp:
            out = run(args, Path(tmp))
    for i, r in enumerate(out["per_press"]):
        print(press_line(i, PressResult(**r)))
    s = out["summary"]
    for name in (
        "latency",
        "latency_after_call",
        "key_to_action",
        "action_to_frame",
        "delivery",
        "key_call",
    ):
        part = s[name]
        if part.get("n"):
            print(
                f"{name:21s} n={part['n']:3d}  "
                + "  ".join(
                    f"{p} {part[f'{p}_ms']:6.1f} ms ({part[f'{p}_ticks']:.2f} t)"
                    for p in ("p50", "p90", "p99", "max")
                )
            )
    print(
        f"presses by status: {s['by_status']}; in-sim ticks late: {s['ticks_late']}, ticks the sim "
        f"skipped in the wait: {s['ticks_missed']}"
    )
    print(f"machine: load average {out['load_before']} before, {out['load_after']} after; {out['sim_ticks']}")
    if out["clock_line"]:
        print(out["clock_line"])
    print(f"p99 <= 1 tick: {'yes' if s['p99_within_one_tick'] else 'NO'} (dora exit {out['dora_rc']})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
