"""Record keyboard demonstrations the way a person would, through the real X path.

    .venv/bin/python scripts/human_driver.py --out outputs/human --plan careful,diagonal,sloppy --repeat 5
    .venv/bin/python scripts/human_driver.py --out outputs/human_bad --plan hesitate,wander

Runs `dataflow-record.yaml` (keyboard -> sim -> scorer -> recorder) under its own Xvfb and presses keys
with xdotool, as the X11 keyboard backend hears a real keyboard. The driver's eyes are a probe node
(`sim_teleop_bench.frame_probe`) added to a copy of the flow: it writes each frame's tool point, cube
and phase to a file, which the driver reads with a person's delays. Each episode follows one style (seeded):

- careful: one arrow at a time, slow reactions (0.4-0.8 s), a long look (1-1.7 s in all) before descending;
- diagonal: two arrows together, then the axis left over; quick reactions (0.2-0.5 s);
- sloppy: keys let go late (2-4 cm overshoot), corrected back by taps; looks up to 1.5 s;
- hesitate (bad): a 3 s standstill half-way through the approach;
- wander (bad): a 10-14 cm excursion sideways and back before the approach.

Writes `<out>/verdicts.json`: per episode the style and the live report's verdict, score and reasons
(from the recorder's sidecar); prints a summary. The dataset stays in `<out>/ds` for offline rescoring
(`scripts/score_dataset.py --root <out>/ds`).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sim_teleop.launch.dora import dora_environment
from sim_teleop_bench import frame_probe
from sim_teleop_bench.xvfb import start_xvfb

REPO = Path(__file__).resolve().parents[1]
PROBE = Path(frame_probe.__file__)
SPEED = 0.1  # m/s: the keyboard's target speed while a key is held
COAST_M = 0.025  # how far the arm goes on after a key is let go (target lead + key and frame latency)
AXIS_KEYS = (("Left", "Right"), ("Down", "Up"), ("50", "62"))  # per axis (negative, positive); z by keycode
STYLES = ("careful", "diagonal", "sloppy", "hesitate", "wander")


@dataclass(frozen=True)
class Style:
    name: str
    reaction: tuple[float, float]  # s before acting on what was seen
    look: tuple[float, float]  # s of looking before descending
    overshoot: tuple[float, float]  # m past the goal before a key is let go
    two_arrows: bool
    hesitate_s: float = 0.0
    wander_m: float = 0.0


def style(name: str) -> Style:
    if name == "careful":
        return Style(name, (0.4, 0.8), (0.6, 1.1), (0.0, 0.01), False)
    if name == "diagonal":
        return Style(name, (0.2, 0.5), (0.2, 0.6), (0.0, 0.015), True)
    if name == "sloppy":
        return Style(name, (0.2, 0.6), (0.3, 0.9), (0.02, 0.04), False)
    if name == "hesitate":
        return Style(name, (0.2, 0.5), (0.3, 0.8), (0.0, 0.01), False, hesitate_s=3.0)
    if name == "wander":
        return Style(name, (0.2, 0.5), (0.3, 0.8), (0.0, 0.01), False, wander_m=0.12)
    raise SystemExit(f"unknown style {name!r}: one of {', '.join(STYLES)}")


class Eyes:
    """The latest frame the probe wrote (read incrementally)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.last: dict[str, Any] = {}
        self.rows = 0
        self.seen: set[tuple[int, str]] = set()

    def look(self) -> dict[str, Any]:
        if self.path.exists():
            with self.path.open() as fh:
                fh.seek(self.offset)
                chunk = fh.read()
            end = chunk.rfind("\n") + 1
            self.offset += end
            for line in chunk[:end].splitlines():
                if line.strip():
                    self.last = json.loads(line)
                    self.rows += 1
                    self.seen.add((self.last["episode_index"], self.last["phase"]))
        return self.last


class Hands:
    """xdotool on one display; remembers held keys so they can all be let go."""

    def __init__(self, display: str) -> None:
        self.env = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
        self.held: set[str] = set()

    def _x(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True)

    def down(self, *keys: str) -> None:
        for k in keys:
            self._x("keydown", k)
            self.held.add(k)

    def up(self, *keys: str) -> None:
        for k in keys:
            self._x("keyup", k)
            self.held.discard(k)

    def tap(self, key: str) -> None:
        self._x("key", key)

    def release_all(self) -> None:
        for k in list(self.held):
            self.up(k)


class Person:
    """One operator: sees through `Eyes`, acts through `Hands`, with a style's timing."""

    def __init__(self, eyes: Eyes, hands: Hands, rng: random.Random, proc: subprocess.Popen) -> None:
        self.eyes, self.hands, self.rng, self.proc = eyes, hands, rng, proc

    def wait(self, attempt: int, phases: tuple[str, ...], timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dora run exited with {self.proc.returncode}")
            row = self.eyes.look()
            if any((attempt, p) in self.eyes.seen for p in phases):
                return row
            time.sleep(0.05)
        raise RuntimeError(f"attempt {attempt} never reached {phases}")

    def react(self, s: Style) -> None:
        time.sleep(self.rng.uniform(*s.reaction))

    def tcp(self) -> list[float]:
        return list(self.eyes.look()["tcp"])

    def drive(self, axes: list[int], goal: list[float], s: Style, limit_s: float = 8.0) -> None:
        """Hold the keys of `axes` towards `goal` until the arm passes it by the style's overshoot (each
        key let go on its own), then correct what is left with taps."""
        p = self.tcp()
        sign = {a: 1.0 if goal[a] > p[a] else -1.0 for a in axes if abs(goal[a] - p[a]) > 0.006}
        over = {a: self.rng.uniform(*s.overshoot) for a in sign}
        for a, sg in sign.items():
            self.hands.down(AXIS_KEYS[a][sg > 0])
        t0 = time.monotonic()
        seen = {a: (t0, p[a]) for a in sign}  # when each axis last moved, and where
        while sign and time.monotonic() - t0 < limit_s:
            time.sleep(0.03)
            p = self.tcp()
            now = time.monotonic()
            for a, sg in list(sign.items()):
                if abs(p[a] - seen[a][1]) > 0.002:
                    seen[a] = (now, p[a])
                # the arm trails the target and coasts on after a key is let go (~2.5 cm here): a person
                # lets go before it arrives, and lets go of a key that no longer moves the arm (a
                # workspace bound, the table)
                if (goal[a] - p[a]) * sg <= COAST_M - over[a] or now - seen[a][0] > 0.6:
                    self.hands.up(AXIS_KEYS[a][sg > 0])
                    del sign[a]
        self.hands.release_all()
        for _ in range(3):  # corrective taps, each after a look
            time.sleep(self.rng.uniform(0.25, 0.6))  # the arm settles, the person sees where it is
            p = self.tcp()
            errs = [(abs(goal[a] - p[a]), a) for a in axes]
            err, a = max(errs)
            if err <= 0.007:
                return
            key = AXIS_KEYS[a][goal[a] > p[a]]
            self.hands.down(key)
            time.sleep(min(0.5, err / SPEED * self.rng.uniform(0.7, 1.1)))
            self.hands.up(key)

    def episode(self, attempt: int, s: Style) -> None:
        self.hands.tap("space")
        self.wait(attempt, ("running",))
        time.sleep(self.rng.uniform(0.3, 0.9))  # getting ready
        cube = self.eyes.look()["cube"]
        p = self.tcp()
        if s.wander_m:
            off = p[1] + (s.wander_m if p[1] < 0 else -s.wander_m)
            self.drive([1], [p[0], off, p[2]], s)
            self.react(s)
            self.drive([1], [p[0], p[1], p[2]], s)
            self.react(s)
        goal = [cube[0], cube[1], p[2]]
        if s.two_arrows:
            self.drive([0, 1], goal, s)
        else:
            first = [0, 1] if self.rng.random() < 0.5 else [1, 0]
            self.drive([first[0]], goal, s)
            if s.hesitate_s:
                time.sleep(s.hesitate_s)
            else:
                self.react(s)
            self.drive([first[1]], goal, s)
        time.sleep(self.rng.uniform(*s.look))  # a look before descending (after the settling glance)
        cube = self.eyes.look()["cube"]
        self.drive([2], [cube[0], cube[1], cube[2] + 0.004], s)
        time.sleep(self.rng.uniform(0.2, 0.6))
        self.hands.down("super")  # held: gripper closed
        time.sleep(self.rng.uniform(0.6, 1.2))  # the fingers close, the person checks the grasp
        self.hands.down(AXIS_KEYS[2][1])
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline and (attempt, "done") not in self.eyes.seen:
            self.eyes.look()
            time.sleep(0.05)
        self.hands.up(AXIS_KEYS[2][1])
        if (attempt, "done") not in self.eyes.seen:
            self.react(s)
            self.hands.tap("space")  # finished by hand
            self.wait(attempt, ("done",))
        self.hands.up("super")
        time.sleep(self.rng.uniform(0.2, 0.5))
        self.hands.tap("space")  # reset
        self.wait(attempt, ("resetting",))


def flow_with_probe(out: Path, probe_out: Path) -> Path:
    spec = yaml.safe_load((REPO / "dataflow-record.yaml").read_text())
    spec["nodes"].append(
        {
            "id": "human_eyes",
            "path": str(PROBE),
            "inputs": {"frame": {"source": "sim/frame", "queue_size": 1000}},
            "env": {"PROBE_OUT": str(probe_out)},
        }
    )
    flow = out / "dataflow-human.yaml"
    flow.write_text(yaml.safe_dump(spec, sort_keys=False))
    return flow


def record(
    out: Path, plan: list[str], seed: int, env_extra: dict[str, str] | None = None, display: str | None = None
) -> list[dict]:
    """Record one session of `plan` (one style per episode) into `out/ds`; returns the verdict rows.
    `display`: an X server to use (default: a new Xvfb for the session)."""
    from sim_teleop.dataset.sidecar import EpisodeSidecar

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    probe = out / "frames.jsonl"
    flow = flow_with_probe(out, probe)
    xvfb = None
    if display is None:
        xvfb, display = start_xvfb(first=150)
    env = dora_environment(
        DISPLAY=display,
        RECORD_REPO_ID="local/human",
        RECORD_ROOT=str(out / "ds"),
        RECORD_NUM_EPISODES=str(len(plan) + 5),
        SIM_TIME_LIMIT_S="120",
        **(env_extra or {}),
    )
    env.pop("MUJOCO_GL", None)
    log = out / "dora.log"
    rng = random.Random(seed)
    hands = Hands(display)
    t0 = time.monotonic()
    try:
        with log.open("w") as fh:
            proc = subprocess.Popen(
                ["dora", "run", str(flow)], cwd=out, env=env, stdout=fh, stderr=subprocess.STDOUT
            )
        person = Person(Eyes(probe), hands, rng, proc)
        try:
            person.wait(-1, ("resetting",), timeout=180)
            deadline = time.monotonic() + 120
            while "[keyboard] scene ready" not in log.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("keyboard never ready:\n" + log.read_text()[-3000:])
                time.sleep(0.2)
            time.sleep(0.5)
            for attempt, name in enumerate(plan):
                person.episode(attempt, style(name))
                print(f"[human] attempt {attempt} ({name}) done at {time.monotonic() - t0:.0f} s", flush=True)
            hands.tap("Escape")
            proc.wait(timeout=120)
        finally:
            hands.release_all()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(timeout=10)
    side = EpisodeSidecar(out / "ds")
    rows = []
    for i, name in enumerate(plan):
        q = (side.get(i) or {}).get("quality") or {}
        rows.append(
            {
                "episode": i,
                "style": name,
                "verdict": q.get("verdict"),
                "score": q.get("score"),
                "reasons": q.get("reasons"),
                "success": q.get("success"),
            }
        )
    (out / "verdicts.json").write_text(json.dumps(rows, indent=1))
    return rows


def summary(rows: list[dict]) -> str:
    lines = []
    for name in dict.fromkeys(r["style"] for r in rows):
        mine = [r for r in rows if r["style"] == name]
        bad = [r for r in mine if r["verdict"] != "good"]
        reasons = sorted({x for r in bad for x in (r["reasons"] or ["?"])})
        lines.append(f"{name}: {len(bad)}/{len(mine)} bad ({', '.join(reasons) or '-'})")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "outputs" / "human")
    ap.add_argument("--plan", default="careful,diagonal,sloppy", help="styles, comma-separated, in order")
    ap.add_argument("--repeat", type=int, default=1, help="repeat the plan this many times")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    plan = [s.strip() for s in args.plan.split(",") if s.strip()] * args.repeat
    for name in plan:
        style(name)
    rows = record(args.out.resolve(), plan, args.seed)
    for r in rows:
        print(f"episode {r['episode']:2d} {r['style']:9s} {r['verdict']} {r['score']} {r['reasons']}")
    print(summary(rows))


if __name__ == "__main__":
    main()
